/* The test runner: every module's suite in one Check SRunner, each test forked into its own
 * process with a timeout. CK_RUN_SUITE=name / CK_RUN_CASE=name select a part.
 * VIGIE_TESTS=faults runs the fault suites of tests/faults/faults.h instead (`make faults`): the
 * real daemon against misbehaving targets, disks and receivers, minutes rather than seconds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#include "faults.h"
#undef SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    const char *bin = getenv("VIGIE_BIN");
    const char *set = getenv("VIGIE_TESTS");
    int failed;

    /* The graph timer runs its renderer as `<vigie> graph --render-plan`: in the tests this
     * process is not vigie, so name the binary under test. */
    if (bin && !getenv("VIGIE_RENDERER"))
        setenv("VIGIE_RENDERER", bin, 1);

#define SUITE(name) srunner_add_suite(sr, name##_suite());
    if (set && strcmp(set, "faults") == 0) {
#include "faults.h"
    } else {
#include "suites.h"
    }
#undef SUITE
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
