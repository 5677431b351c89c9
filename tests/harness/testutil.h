/* Helpers shared by the tests: temporary directories and files, running the vigie binary. */
#ifndef VIGIE_TESTUTIL_H
#define VIGIE_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* Every suite constructor, declared once for the runner and the test files. */
#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

#include "srvctl.h"

/* The loopback test server of a test case: an unchecked fixture (test_srv_up / test_srv_down,
 * run once per case in the runner's process) starts it and initialises libcurl. */
extern struct srvctl test_srv;
void test_srv_up(void);
void test_srv_down(void);

/* Timeouts in tests are multiplied by VIGIE_TIMEOUT_SCALE (sanitizer builds are slower). */
int test_timeout(int seconds);

/* Creates a fresh directory under $TMPDIR (or /tmp); returns its path (static storage per call
 * site is not assumed: the caller owns the returned string). Aborts the test on failure. */
char *test_mkdtemp(void);

/* Writes `content` to dir/name (creating dir/sub-directories as needed); returns the path, owned
 * by the caller. */
char *test_write(const char *dir, const char *name, const char *content);

/* The whole file, NUL-terminated (owned by the caller); its length in *len when len is not NULL.
 * Aborts the test if it cannot be read. */
char *test_slurp(const char *path, size_t *len);

/* Removes a directory tree. */
void test_rmtree(const char *dir);

/* Runs $VIGIE_BIN with argv (NULL-terminated, without argv[0]); captures stdout and stderr (each
 * NUL-terminated, owned by the caller, may be NULL pointers to discard). Returns the exit status,
 * or -1 if it did not exit normally. Kills it after `timeout_s` seconds. */
int test_vigie(const char *const *argv, char **out, char **err, int timeout_s);

/* Runs `prog` (looked up in PATH when it has no slash) with argv (NULL-terminated, without
 * argv[0]) and no shell, like test_vigie. When err is NULL a failing command's stderr is
 * printed. */
int test_run(const char *prog, const char *const *argv, char **out, char **err, int timeout_s);

/* Starts $VIGIE_BIN with argv (NULL-terminated, without argv[0], at most 14) in the background,
 * its stderr into `errlog`. Returns its pid. */
pid_t test_spawn_vigie(const char *const *argv, const char *errlog);

/* Waits for pid to exit, at most timeout_s seconds (then kills it and fails the test). Returns its
 * exit status, or -1 when it did not exit normally. */
int test_wait_exit(pid_t pid, int timeout_s);

void test_sleep_ms(long ms);

/* Waits until an rrdcached listens on addr ("unix:/path", "host:port"): `rrdtool flushcached`
 * gets through to it. Fails the test after timeout_ms. */
void test_rrdcached_wait(const char *addr, long timeout_ms);

/* rrdtool with inline arguments: RRDTOOL(&out, "fetch", path, "AVERAGE"). */
#define RRDTOOL(out, ...)                                                                          \
    test_run("rrdtool", (const char *const[]){__VA_ARGS__, NULL}, out, NULL, 60)

#define MAXDS 16

/* What `rrdtool fetch` printed: nrows timestamps and nrows × nds values (NAN for unknown). */
struct series {
    size_t nds, nrows;
    char names[MAXDS][32];
    int64_t *t;
    double *v;
};

/* `rrdtool fetch path cf -r step -s start -e end`, parsed. */
struct series *test_fetch(const char *path, const char *cf, unsigned step, int64_t start,
                          int64_t end);
void series_free(struct series *sr);
/* The column of data source `name` (aborts the test if absent). */
size_t series_col(const struct series *sr, const char *name);
/* The value at timestamp t (the row that ends at t). */
double series_at(const struct series *sr, int64_t t, const char *name);
/* Rows in (from, to] where the source is known. */
size_t series_known(const struct series *sr, const char *name, int64_t from, int64_t to);
/* `rrdtool info path` as text (owned by the caller). */
char *test_rrdinfo(const char *path);
long test_info_long(const char *text, const char *key);

/* An exec receiver: dir/receiver.sh, a script that keeps its stdin as out/n-$VIGIE_ID.json.
 * Returns its path (caller frees). */
char *test_write_receiver(const char *dir, const char *out);
/* The notifications it kept in out/, in a JSON array (json_decref it). */
json_t *test_received(const char *out);

/* dir/probes.d/local.yaml: group "Loopback" and the YAML list `probes`, where PORT stands for the
 * test server's http port. */
void test_write_probes(const char *dir, const char *probes);

/* A loopback TCP port free now (bound, read, closed). */
int test_free_port(void);
/* A blocking HTTP/1.0 GET on 127.0.0.1:port; the body (caller frees) or NULL; the status in
 * *status (0 when there was no answer). */
char *test_http_get(int port, const char *path, int *status);

#define TEST_ALERTMANAGER "/usr/bin/prometheus-alertmanager"
/* A real Alertmanager (Debian's) on 127.0.0.1:port, its configuration, data and log (am.log,
 * appended) in dir, kept across restarts; returns its pid once /-/ready answers 200 (aborts the
 * test otherwise). Its own process group. */
pid_t test_alertmanager_start(const char *dir, int port);

#endif
