/* worker — what every job of libuv's thread pool does first.
 *
 * The daemon's background work (RRD writes, graphs, the dashboard, the report, the alert state,
 * the notification spool, a reload's parsing) runs on libuv's thread pool. On a busy core it
 * would compete with the loop thread, whose wake-ups start the checks and time them: four busy
 * workers at the same priority leave the loop a fifth of the core. worker_idle() puts the calling
 * pool thread in SCHED_IDLE: it runs only when nothing else of the machine wants the CPU. A pool
 * thread runs any job, so every job calls it (a thread's policy is its own and stays). */
#ifndef VIGIE_WORKER_H
#define VIGIE_WORKER_H

/* Puts the calling thread in SCHED_IDLE, the first time it calls (later calls cost a
 * thread-local test). Where the policy is refused, the work runs at normal priority. */
void worker_idle(void);

#endif
