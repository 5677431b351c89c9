/* nftw(3) is XSI. */
#define _XOPEN_SOURCE 700

#include "testutil.h"

#include "net/httpc.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct srvctl test_srv;

void test_srv_up(void)
{
    if (srvctl_start(&test_srv) != 0) {
        fprintf(stderr, "test server did not start\n");
        exit(1);
    }
    httpc_global_init();
}

void test_srv_down(void)
{
    srvctl_stop(&test_srv);
    httpc_global_cleanup();
}

int test_timeout(int seconds)
{
    const char *s = getenv("VIGIE_TIMEOUT_SCALE");
    long k = s ? strtol(s, NULL, 10) : 1;

    return seconds * (int)(k > 0 && k < 100 ? k : 1);
}

char *test_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char buf[512];
    char *p;

    snprintf(buf, sizeof(buf), "%s/vigie-test-XXXXXX", tmp ? tmp : "/tmp");
    p = mkdtemp(buf);
    ck_assert_msg(p != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(p);
}

static void mkdirs(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
}

char *test_write(const char *dir, const char *name, const char *content)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    FILE *f;

    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    mkdirs(path);
    f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(content, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

void test_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads whatever both pipes have until they close or the deadline passes. */
static void slurp(int fds[2], char *bufs[2], size_t lens[2], time_t deadline)
{
    size_t caps[2] = {0, 0};
    int open = 2;

    while (open > 0 && time(NULL) < deadline) {
        struct pollfd pfd[2];
        int n = 0;

        for (int i = 0; i < 2; i++) {
            pfd[i].fd = fds[i];
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        n = poll(pfd, 2, 200);
        if (n <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
                continue;
            if (lens[i] + 4096 + 1 > caps[i]) {
                caps[i] = (caps[i] + 4096) * 2;
                bufs[i] = realloc(bufs[i], caps[i]);
                ck_assert_ptr_nonnull(bufs[i]);
            }
            ssize_t r = read(fds[i], bufs[i] + lens[i], 4096);
            if (r <= 0) {
                close(fds[i]);
                fds[i] = -1;
                open--;
            } else {
                lens[i] += (size_t)r;
            }
        }
    }
}

int test_vigie(const char *const *argv, char **out, char **err, int timeout_s)
{
    const char *bin = getenv("VIGIE_BIN");

    ck_assert_msg(bin != NULL, "VIGIE_BIN is not set (run through make test)");
    return test_run(bin, argv, out, err, timeout_s);
}

int test_run(const char *bin, const char *const *argv, char **out, char **err, int timeout_s)
{
    int po[2], pe[2], status;
    char *bufs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    size_t argc = 0;
    pid_t pid;

    while (argv[argc])
        argc++;
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char **av = calloc(argc + 2, sizeof(*av));

        if (!av)
            _exit(127);
        av[0] = strdup(bin);
        for (size_t i = 0; i < argc; i++)
            av[i + 1] = strdup(argv[i]);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execvp(bin, av);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    int fds[2] = {po[0], pe[0]};
    slurp(fds, bufs, lens, time(NULL) + test_timeout(timeout_s));
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        if (!bufs[i])
            bufs[i] = calloc(1, 1);
        else
            bufs[i][lens[i]] = '\0';
    }
    time_t deadline = time(NULL) + test_timeout(timeout_s);
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < deadline)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("vigie did not finish within %d s; stderr: %s", timeout_s, bufs[1]);
    }
    if (w < 0)
        status = -1;
    if (!err && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        fprintf(stderr, "%s %s: %s", bin, argv[0] ? argv[0] : "", bufs[1]);
    if (out)
        *out = bufs[0];
    else
        free(bufs[0]);
    if (err)
        *err = bufs[1];
    else
        free(bufs[1]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct series *test_fetch(const char *path, const char *cf, unsigned step, int64_t start,
                          int64_t end)
{
    char s[32], en[32], r[32], *out, *line, *next;
    struct series *sr = calloc(1, sizeof(*sr));
    size_t cap = 0;

    ck_assert_ptr_nonnull(sr);
    snprintf(s, sizeof(s), "%lld", (long long)start);
    snprintf(en, sizeof(en), "%lld", (long long)end);
    snprintf(r, sizeof(r), "%u", step);
    ck_assert_int_eq(RRDTOOL(&out, "fetch", path, cf, "-r", r, "-s", s, "-e", en), 0);
    for (line = out; *line; line = next) {
        char *p = line, *q;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        else
            next = line + strlen(line);
        if (*line == '\0')
            continue;

        if (sr->nds == 0) {
            /* The header: the DS names. */
            int n;
            while (sr->nds < MAXDS && sscanf(p, " %31s%n", sr->names[sr->nds], &n) == 1) {
                sr->nds++;
                p += n;
            }
            continue;
        }
        q = strchr(p, ':');
        if (!q)
            continue;
        if (sr->nrows == cap) {
            cap = cap ? cap * 2 : 64;
            sr->t = realloc(sr->t, cap * sizeof(*sr->t));
            sr->v = realloc(sr->v, cap * sr->nds * sizeof(*sr->v));
            ck_assert(sr->t && sr->v);
        }
        sr->t[sr->nrows] = strtoll(p, NULL, 10);
        p = q + 1;
        for (size_t i = 0; i < sr->nds; i++) {
            char *endp;
            sr->v[sr->nrows * sr->nds + i] = strtod(p, &endp);
            ck_assert_msg(endp != p, "fetch: cannot read a value in '%s'", line);
            p = endp;
        }
        sr->nrows++;
    }
    free(out);
    return sr;
}

void series_free(struct series *sr)
{
    free(sr->t);
    free(sr->v);
    free(sr);
}

size_t series_col(const struct series *sr, const char *name)
{
    for (size_t i = 0; i < sr->nds; i++)
        if (strcmp(sr->names[i], name) == 0)
            return i;
    ck_abort_msg("no data source %s", name);
    return 0;
}

double series_at(const struct series *sr, int64_t t, const char *name)
{
    size_t c = series_col(sr, name);

    for (size_t i = 0; i < sr->nrows; i++)
        if (sr->t[i] == t)
            return sr->v[i * sr->nds + c];
    ck_abort_msg("no row at %lld", (long long)t);
    return NAN;
}

size_t series_known(const struct series *sr, const char *name, int64_t from, int64_t to)
{
    size_t c = series_col(sr, name), n = 0;

    for (size_t i = 0; i < sr->nrows; i++)
        if (sr->t[i] > from && sr->t[i] <= to && !isnan(sr->v[i * sr->nds + c]))
            n++;
    return n;
}

char *test_rrdinfo(const char *path)
{
    char *out;

    ck_assert_int_eq(RRDTOOL(&out, "info", path), 0);
    return out;
}

long test_info_long(const char *text, const char *key)
{
    char pat[128];
    const char *p;

    snprintf(pat, sizeof(pat), "\n%s = ", key);
    p = strstr(text, pat);
    ck_assert_msg(p != NULL, "rrdtool info has no %s", key);
    return strtol(p + strlen(pat), NULL, 10);
}

pid_t test_spawn_vigie(const char *const *argv, const char *errlog)
{
    const char *bin = getenv("VIGIE_BIN");
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *av[16];
        int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int i = 0;

        av[i++] = strdup(bin);
        for (; argv[i - 1] && i < 15; i++)
            av[i] = strdup(argv[i - 1]);
        av[i] = NULL;
        dup2(fd, 2);
        execv(bin, av);
        _exit(127);
    }
    return pid;
}

int test_wait_exit(pid_t pid, int timeout_s)
{
    int status;

    for (int i = 0; i < timeout_s * 100; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_abort_msg("vigie did not exit within %d s", timeout_s);
    return -1;
}

void test_sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

void test_rrdcached_wait(const char *addr, long timeout_ms)
{
    for (long waited = 0; waited < timeout_ms; waited += 50) {
        char *out = NULL;
        bool up;

        test_run("rrdtool",
                 (const char *const[]){"flushcached", "--daemon", addr, "nonexistent.rrd", NULL},
                 NULL, &out, 10);
        up = out && !strstr(out, "onnect") && !strstr(out, "refused");
        free(out);
        if (up)
            return;
        test_sleep_ms(50);
    }
    ck_abort_msg("rrdcached did not come up on %s", addr);
}

/* ---- loopback HTTP and a real Alertmanager (test_notify, test_faults_alert) ---- */

int test_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* A blocking HTTP/1.0 GET on loopback; the body (caller frees) or NULL; the status in *status. */
char *test_http_get(int port, const char *path, int *status)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[512], *buf = NULL, *body;
    size_t len = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t r;

    *status = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return NULL;
    }
    do {
        if (len + 4096 + 1 > cap) {
            char *bigger = realloc(buf, cap ? cap * 2 : 65536);

            ck_assert_ptr_nonnull(bigger);
            buf = bigger;
            cap = cap ? cap * 2 : 65536;
        }
        r = read(fd, buf + len, 4096);
        if (r > 0)
            len += (size_t)r;
    } while (r > 0);
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    sscanf(buf, "HTTP/%*s %d", status);
    body = strstr(buf, "\r\n\r\n");
    body = strdup(body ? body + 4 : "");
    free(buf);
    return body;
}

pid_t test_alertmanager_start(const char *dir, int port)
{
    char cfg[700], arg[720], listen[64], log[700], storage[700];
    pid_t pid;

    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/am.log", dir);
    free(test_write(dir, "am.yml", "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"));
    snprintf(cfg, sizeof(cfg), "--config.file=%s/am.yml", dir);
    snprintf(arg, sizeof(arg), "--storage.path=%s/am-data", dir);
    snprintf(storage, sizeof(storage), "%s/am-data", dir);
    mkdir(storage, 0700);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setpgid(0, 0);
        execl(TEST_ALERTMANAGER, TEST_ALERTMANAGER, cfg, arg, listen,
              "--cluster.listen-address=", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400 * test_timeout(1); i++) {
        int status;
        char *body = test_http_get(port, "/-/ready", &status);

        free(body);
        if (status == 200)
            return pid;
        test_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("alertmanager did not become ready (see %s)", log);
    return -1;
}

/* The probes file: `probes` with PORT replaced by the test server's http port. */
void test_write_probes(const char *dir, const char *probes)
{
    char yaml[8192], port[16];
    size_t off, plen;

    off = (size_t)snprintf(yaml, sizeof(yaml), "group: \"Loopback\"\nprobes:\n");
    plen = (size_t)snprintf(port, sizeof(port), "%d", test_srv.http);
    for (const char *p = probes; *p && off + plen + 1 < sizeof(yaml); p++) {
        if (strncmp(p, "PORT", 4) == 0) {
            memcpy(yaml + off, port, plen);
            off += plen;
            p += 3;
        } else {
            yaml[off++] = *p;
        }
    }
    yaml[off] = '\0';
    free(test_write(dir, "probes.d/local.yaml", yaml));
}

/* ---- an exec notification receiver (test_alerting, test_reload) ---- */

/* The notifications the exec receiver wrote into out/ (each "n-<id>.json"), in an array. */
json_t *test_received(const char *out)
{
    json_t *all = json_array();
    DIR *d = opendir(out);
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[1200];
        json_t *n;

        if (strncmp(e->d_name, "n-", 2) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", out, e->d_name);
        n = json_load_file(path, 0, NULL);
        ck_assert_msg(n != NULL, "%s is not JSON", path);
        json_array_append_new(all, n);
    }
    closedir(d);
    return all;
}

/* An exec receiver: a script that keeps its stdin as out/n-$VIGIE_ID.json. */
char *test_write_receiver(const char *dir, const char *out)
{
    char script[1200], *path;

    snprintf(script, sizeof(script),
             "#!/bin/sh\nset -e\ncat > \"%s/.tmp-$VIGIE_ID\"\nmv \"%s/.tmp-$VIGIE_ID\" "
             "\"%s/n-$VIGIE_ID.json\"\n",
             out, out, out);
    path = test_write(dir, "receiver.sh", script);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}
