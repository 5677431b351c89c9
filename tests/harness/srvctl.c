#include "srvctl.h"

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void set_cloexec(int fd)
{
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

/* Parses "http=P https=P ..." into the port fields. 0 or -1. */
static int parse_ports(struct srvctl *s, const char *line)
{
    struct {
        const char *name;
        int *port;
    } tab[] = {
        {"http", &s->http},
        {"https", &s->https},
        {"expired", &s->expired},
        {"wronghost", &s->wronghost},
        {"soon", &s->soon},
        {"stall", &s->stall},
        {"refused", &s->refused},
        {"smtp", &s->smtp},
        {"smtps", &s->smtps},
        {"smtpplain", &s->smtpplain},
        {"selfsigned", &s->selfsigned},
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        size_t n = strlen(tab[i].name);
        const char *p = line;
        char *end;
        long v;

        /* find "name=" at the start of a word */
        while ((p = strstr(p, tab[i].name)) != NULL) {
            if ((p == line || p[-1] == ' ') && p[n] == '=')
                break;
            p += n;
        }
        if (!p)
            return -1;
        errno = 0;
        v = strtol(p + n + 1, &end, 10);
        if (errno || end == p + n + 1 || v < 1 || v > 65535)
            return -1;
        *tab[i].port = (int)v;
    }
    return 0;
}

/* Reads the first line of fd into buf within the deadline. 0, or -1 with a reason in *why. */
static int read_line(int fd, char *buf, size_t len, long deadline, const char **why)
{
    size_t got = 0;

    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long left = deadline - now_ms();
        ssize_t r;
        int n;

        if (left <= 0) {
            *why = "timed out waiting for the port line";
            return -1;
        }
        n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *why = strerror(errno);
            return -1;
        }
        if (n == 0)
            continue;
        r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *why = "the server exited before printing its ports";
            return -1;
        }
        got += (size_t)r;
        buf[got] = '\0';
        if (strchr(buf, '\n'))
            return 0;
        if (got == len - 1) {
            *why = "port line too long";
            return -1;
        }
    }
}

int srvctl_start(struct srvctl *s)
{
    return srvctl_start_at(s, 0);
}

int srvctl_start_at(struct srvctl *s, int http_port)
{
    char port_arg[16];

    const char *bin = getenv("VIGIE_TESTSRV");
    const char *tmp = getenv("TMPDIR");
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    const char *why = NULL;
    char line[512];

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->in_fd = -1;
    if (!bin || !*bin)
        bin = "build/testsrv";
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (snprintf(s->dir, sizeof(s->dir), "%s/vigie-srv-XXXXXX", tmp) >= (int)sizeof(s->dir)) {
        fprintf(stderr, "srvctl: TMPDIR is too long\n");
        s->dir[0] = '\0';
        return -1;
    }
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "srvctl: mkdtemp %s: %s\n", s->dir, strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    snprintf(s->ca, sizeof(s->ca), "%s/ca.pem", s->dir);

    if (pipe(in) < 0 || pipe(out) < 0) {
        fprintf(stderr, "srvctl: pipe: %s\n", strerror(errno));
        goto fail;
    }
    /* Our ends must not leak into other children (vigie runs, curl...): the server has to see
     * end-of-file on its stdin as soon as this process goes away. */
    set_cloexec(in[1]);
    set_cloexec(out[0]);
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0) {
        fprintf(stderr, "srvctl: fork: %s\n", strerror(errno));
        goto fail;
    }
    if (s->pid == 0) {
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(127);
        long maxfd = sysconf(_SC_OPEN_MAX);

        /* nothing of the test process (Check's files, other servers' pipes) leaks in */
        if (maxfd < 0 || maxfd > 65536)
            maxfd = 65536;
        for (int fd = 3; fd < maxfd; fd++)
            close(fd);
        snprintf(port_arg, sizeof(port_arg), "%d", http_port);
        if (http_port > 0)
            execl(bin, bin, "--dir", s->dir, "--http-port", port_arg, (char *)NULL);
        else
            execl(bin, bin, "--dir", s->dir, (char *)NULL);
        fprintf(stderr, "srvctl: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    s->in_fd = in[1];
    in[1] = -1;

    if (read_line(out[0], line, sizeof(line), now_ms() + START_TIMEOUT_MS, &why) < 0) {
        fprintf(stderr, "srvctl: %s: %s\n", bin, why);
        goto fail;
    }
    if (parse_ports(s, line) < 0) {
        fprintf(stderr, "srvctl: %s: malformed port line: %s", bin, line);
        goto fail;
    }
    close(out[0]);
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    srvctl_stop(s);
    return -1;
}

void srvctl_stop(struct srvctl *s)
{
    if (s->pid > 0) {
        /* Scaled: under valgrind its exit (and leak check) takes seconds. */
        long deadline = now_ms() + STOP_TIMEOUT_MS * (long)test_timeout(1);
        pid_t w;
        int status;

        kill(s->pid, SIGTERM);
        while ((w = waitpid(s->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
            nap_ms(10);
        if (w == 0) {
            kill(s->pid, SIGKILL);
            while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        s->pid = -1;
    }
    if (s->in_fd >= 0) {
        close(s->in_fd);
        s->in_fd = -1;
    }
    if (s->dir[0]) {
        /* besides ca.pem, the server writes recorded mails and webhook requests (and tests may
         * drop flag files for down=): the directory holds no sub-directory */
        DIR *d = opendir(s->dir);
        struct dirent *de;

        while (d && (de = readdir(d)) != NULL) {
            char path[600];

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        unlink(s->ca);
        if (rmdir(s->dir) < 0 && errno != ENOENT)
            fprintf(stderr, "srvctl: rmdir %s: %s\n", s->dir, strerror(errno));
        s->dir[0] = '\0';
        s->ca[0] = '\0';
    }
}

char *srvctl_url(char *buf, size_t len, const char *scheme, int port, const char *path_and_query)
{
    if (len > 0)
        snprintf(buf, len, "%s://127.0.0.1:%d%s", scheme, port,
                 path_and_query ? path_and_query : "/");
    return buf;
}
