/* worker: a job of libuv's thread pool that calls worker_nice() runs at nice WORKER_NICE from
 * then on; the loop thread keeps its own. */
#define _DEFAULT_SOURCE /* syscall() */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "testutil.h"
#include "base/worker.h"

struct nice_job {
    uv_work_t req;
    int before, after;
};

static int nice_of_self(void)
{
    int prio;

    errno = 0;
    prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    ck_assert_int_eq(errno, 0);
    return prio;
}

static void job_run(uv_work_t *req)
{
    struct nice_job *j = (struct nice_job *)req;

    j->before = nice_of_self();
    worker_nice();
    worker_nice(); /* a second call changes nothing */
    j->after = nice_of_self();
}

static void job_done(uv_work_t *req, int status)
{
    (void)req;
    ck_assert_int_eq(status, 0);
}

START_TEST(test_pool_thread_nice)
{
    uv_loop_t loop;
    struct nice_job j = {0};
    int loop_nice = nice_of_self();

    ck_assert_int_lt(loop_nice, WORKER_NICE);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(uv_queue_work(&loop, &j.req, job_run, job_done), 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(j.after, WORKER_NICE);
    ck_assert_int_eq(nice_of_self(), loop_nice);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker_nice");

    tcase_add_test(tc, test_pool_thread_nice);
    suite_add_tcase(s, tc);
    return s;
}
