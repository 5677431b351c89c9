/* worker — see worker.h. */
#define _DEFAULT_SOURCE /* syscall() */
#include "base/worker.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void worker_nice(void)
{
    static _Thread_local bool done;

    if (done)
        return;
    done = true;
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
}
