/* cli — the one option loop of every command line (run, check, validate, dashboard, graph,
 * report, simulate, demo): getopt_long, so that the GNU conventions hold everywhere (`--opt=value`,
 * `-cFILE`, options before or after the operands, `--` ends them) and the mistakes read the same
 * in every command. */
#ifndef VIGIE_CLI_H
#define VIGIE_CLI_H

#include <getopt.h>

struct cli {
    int argc;
    char **argv;     /* argv[0] the command's name, then its arguments (permuted by getopt) */
    const char *who; /* the prefix of messages: "vigie", "vigie: report" */
    const struct option *longopts;
    char optstring[64]; /* ":" then the short options */
    char name[40];      /* the option cli_next returned, as given: "--config" or "-c" */
};

/* Starts a loop over argv[1..argc) (getopt's state is reset: commands also run in-process, from
 * the tests). `shortopts` in getopt's syntax ("c:v"), without a leading ':'. */
void cli_init(struct cli *c, const char *who, int argc, char **argv, const char *shortopts,
              const struct option *longopts);

/* The next option: its `val` (its argument in `optarg`); -1 when there is none left, the operands
 * being argv[optind..argc); '?' after printing to stderr `<who>: unexpected argument "X"` or
 * `<who>: X needs a value`. */
int cli_next(struct cli *c);

#endif
