/* nftw(3) is XSI. */
#define _XOPEN_SOURCE 700

#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
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
    int po[2], pe[2], status;
    char *bufs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    size_t argc = 0;
    pid_t pid;

    ck_assert_msg(bin != NULL, "VIGIE_BIN is not set (run through make test)");
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
        execv(bin, av);
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
