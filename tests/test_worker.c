/* worker: a job of libuv's thread pool that calls worker_idle() runs at SCHED_IDLE from then on;
 * the loop thread keeps its policy. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <uv.h>

#include "testutil.h"
#include "worker.h"

struct probe_job {
    uv_work_t req;
    bool call;
    int policy_before, policy_after;
};

static int policy_of_self(void)
{
    struct sched_param sp;
    int policy = -1;

    ck_assert_int_eq(pthread_getschedparam(pthread_self(), &policy, &sp), 0);
    return policy;
}

static void job_run(uv_work_t *req)
{
    struct probe_job *j = (struct probe_job *)req;

    j->policy_before = policy_of_self();
    if (j->call) {
        worker_idle();
        worker_idle(); /* a second call changes nothing */
    }
    j->policy_after = policy_of_self();
}

static void job_done(uv_work_t *req, int status)
{
    (void)req;
    ck_assert_int_eq(status, 0);
}

START_TEST(test_idle_policy)
{
    uv_loop_t loop;
    struct probe_job j = {.call = true};
    int main_policy = policy_of_self();

    ck_assert_int_ne(main_policy, SCHED_IDLE);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(uv_queue_work(&loop, &j.req, job_run, job_done), 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(j.policy_after, SCHED_IDLE);
    ck_assert_int_eq(policy_of_self(), main_policy);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker_idle");

    tcase_add_test(tc, test_idle_policy);
    suite_add_tcase(s, tc);
    return s;
}
