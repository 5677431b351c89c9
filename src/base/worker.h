/* worker — what every job of libuv's thread pool does first.
 *
 * The daemon's background work (RRD writes, graph passes, the dashboard, the report, the alert
 * state, the notification spool, a reload's parsing) runs on libuv's thread pool. On a busy core
 * it would compete with the loop thread, whose wake-ups start the checks and time them: four busy
 * workers at the same priority leave the loop a fifth of the core. worker_nice() gives the
 * calling pool thread the lowest priority (nice 19: weight 15 against the loop's 1024, so the
 * loop keeps ~95 % of a core that four workers want). Not SCHED_IDLE: an idle-class thread can
 * wait indefinitely while other processes keep the machine busy — the notification spool with it
 * — and if it waits while holding one of libuv's queue mutexes, the loop stalls behind it.
 * A pool thread runs any job and keeps its priority, so every job calls it. */
#ifndef VIGIE_WORKER_H
#define VIGIE_WORKER_H

/* The nice value of the pool threads. */
#define WORKER_NICE 19

/* Sets the calling thread's nice value to WORKER_NICE, the first time it calls (later calls cost
 * a thread-local test). Linux: setpriority(2) on a thread id applies to that thread only. Where
 * it is refused, the work runs at the process's priority. */
void worker_nice(void);

#endif
