/* worker — see worker.h. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "worker.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

void worker_idle(void)
{
    static _Thread_local bool done;
    struct sched_param sp = {0};

    if (done)
        return;
    done = true;
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
}
