/* Helpers shared by the tests: temporary directories and files, running the vigie binary. */
#ifndef VIGIE_TESTUTIL_H
#define VIGIE_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Every suite constructor, declared once for the runner and the test files. */
#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

/* Timeouts in tests are multiplied by VIGIE_TIMEOUT_SCALE (sanitizer builds are slower). */
int test_timeout(int seconds);

/* Creates a fresh directory under $TMPDIR (or /tmp); returns its path (static storage per call
 * site is not assumed: the caller owns the returned string). Aborts the test on failure. */
char *test_mkdtemp(void);

/* Writes `content` to dir/name (creating dir/sub-directories as needed); returns the path, owned
 * by the caller. */
char *test_write(const char *dir, const char *name, const char *content);

/* Removes a directory tree. */
void test_rmtree(const char *dir);

/* Runs $VIGIE_BIN with argv (NULL-terminated, without argv[0]); captures stdout and stderr (each
 * NUL-terminated, owned by the caller, may be NULL pointers to discard). Returns the exit status,
 * or -1 if it did not exit normally. Kills it after `timeout_s` seconds. */
int test_vigie(const char *const *argv, char **out, char **err, int timeout_s);

#endif
