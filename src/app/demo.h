/* demo — `vigie demo` / `make demo`: the simulator (src/sim.h) and the real daemon against it,
 * for a few minutes, then the report and a summary (docs/SIMULATE.md). */
#ifndef VIGIE_DEMO_H
#define VIGIE_DEMO_H

/* `vigie demo [options]` (argv[0] the command's name): starts the simulated services, writes their
 * configuration in the output directory, runs `vigie run` on it in a child process (posix_spawn
 * of /proc/self/exe, its own process group), stops and reaps it when the duration is over or on
 * SIGINT/SIGTERM, then writes the report and prints the summary. Returns the exit status. */
int demo_main(int argc, char **argv);

#endif
