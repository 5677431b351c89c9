/* exec — the exec back-end: the receiver's program run directly (no shell), in its own session.
 *
 * The notification goes to its stdin as JSON and, in VIGIE_* variables, to its environment (a
 * fixed PATH, nothing inherited); stdout is ignored, stderr is ours. Exit status 0 is acceptance.
 * A program over its timeout is killed with its process group. The attempt ends once the
 * process, its stdin pipe and its timer are closed (exec_closed). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/container.h"
#include "base/log.h"
#include "base/sbuf.h"
#include "notify/notify_int.h"

static void exec_close_all(struct attempt *a);
static void on_exit_cb(uv_process_t *proc, int64_t status, int sig);
static void on_exec_timeout(uv_timer_t *t);
static void on_stdin_written(uv_write_t *wr, int status);

/* exec: every handle closed, the attempt is over. */
static void exec_closed(uv_handle_t *handle)
{
    struct attempt *a = handle->data;
    struct notify *n = a->n;
    struct rstate *rs = a->rs;
    char why[ERR_MAX], key[64];
    bool ok;

    if (--a->handles > 0)
        return;
    rs->busy = NULL;
    n->busy--;
    if (n->closing) {
        notify_attempt_free(a);
        notify_maybe_closed(n);
        return;
    }
    ok = a->exited && !a->timed_out && a->exit_status == 0 && a->term_signal == 0;
    if (a->timed_out) {
        snprintf(why, sizeof(why), "%.200s timed out, killed", a->prog);
        snprintf(key, sizeof(key), "timeout");
    } else if (!a->exited) {
        snprintf(why, sizeof(why), "%.200s could not be started", a->prog);
        snprintf(key, sizeof(key), "start");
    } else if (a->term_signal) {
        snprintf(why, sizeof(why), "%.200s killed by signal %d", a->prog, a->term_signal);
        snprintf(key, sizeof(key), "signal %d", a->term_signal);
    } else {
        snprintf(why, sizeof(why), "%.200s exited with status %lld", a->prog,
                 (long long)a->exit_status);
        snprintf(key, sizeof(key), "exit %lld", (long long)a->exit_status);
    }
    notify_attempt_end(n, rs, a->it, ok, false, ok ? "" : key, ok ? "" : why);
    notify_attempt_free(a);
    notify_pump(n);
}

static void exec_close_all(struct attempt *a)
{
    if (!uv_is_closing((uv_handle_t *)&a->in))
        uv_close((uv_handle_t *)&a->in, exec_closed);
    if (!uv_is_closing((uv_handle_t *)&a->timer))
        uv_close((uv_handle_t *)&a->timer, exec_closed);
    if (!uv_is_closing((uv_handle_t *)&a->proc))
        uv_close((uv_handle_t *)&a->proc, exec_closed);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    struct attempt *a = container_of(proc, struct attempt, proc);

    a->exited = true;
    a->exit_status = status;
    a->term_signal = sig;
    exec_close_all(a);
}

void exec_kill(struct attempt *a)
{
    /* the program runs in its own session: its children go too. Never with pid 0 (not
     * started): kill(0) would be our own process group. */
    if (a->exited || a->proc.pid <= 0)
        return;
    uv_kill(-a->proc.pid, SIGKILL);
    uv_process_kill(&a->proc, SIGKILL);
}

static void on_exec_timeout(uv_timer_t *t)
{
    struct attempt *a = container_of(t, struct attempt, timer);

    a->timed_out = true;
    exec_kill(a);
}

static void on_stdin_written(uv_write_t *wr, int status)
{
    struct attempt *a = container_of(wr, struct attempt, wr);

    (void)status; /* a program that ignores its input is fine: its exit status decides */
    if (!uv_is_closing((uv_handle_t *)&a->in))
        uv_close((uv_handle_t *)&a->in, exec_closed);
}

/* "NAME=value" (CR/LF kept: an environment value may hold them). */
static char *env_entry(const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);

    if (s)
        snprintf(s, len, "%s=%s", name, value);
    return s;
}

int exec_start(struct notify *n, struct attempt *a)
{
    const struct receiver *rc = a->rs->rc;
    const json_t *j = a->it->j, *alerts = json_object_get(j, "alerts");
    struct sbuf probes = {0}, kinds = {0};
    const char *severity = "warning";
    char count[32], *env[16] = {NULL};
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    size_t i, ne = 0;
    json_t *al;
    int err = -ENOMEM;

    json_array_foreach(alerts, i, al)
    {
        const char *k = jstr(al, "kind");

        if (probes.len)
            sbuf_puts(&probes, " ");
        render_line(&probes, jstr(al, "probe"));
        if (*k && !(kinds.p && strstr(kinds.p, k))) {
            if (kinds.len)
                sbuf_puts(&kinds, " ");
            render_line(&kinds, k);
        }
        if (strcmp(jstr(al, "severity"), "critical") == 0)
            severity = "critical";
    }
    snprintf(count, sizeof(count), "%zu", json_array_size(alerts));
    env[ne++] = env_entry("PATH", "/usr/local/bin:/usr/bin:/bin");
    env[ne++] = env_entry("VIGIE_ID", jstr(j, "id"));
    env[ne++] = env_entry("VIGIE_STATUS", jstr(j, "status"));
    env[ne++] = env_entry("VIGIE_TITLE", jstr(j, "title"));
    env[ne++] = env_entry("VIGIE_ROUTE", jstr(j, "route"));
    env[ne++] = env_entry("VIGIE_RECEIVER", jstr(j, "receiver"));
    env[ne++] = env_entry("VIGIE_GROUP", jstr(j, "group"));
    env[ne++] = env_entry("VIGIE_CREATED", jstr(j, "created"));
    env[ne++] = env_entry("VIGIE_COUNT", count);
    env[ne++] = env_entry("VIGIE_SEVERITY", severity);
    env[ne++] = env_entry("VIGIE_PROBES", probes.p ? probes.p : "");
    env[ne++] = env_entry("VIGIE_KINDS", kinds.p ? kinds.p : "");
    for (i = 0; i < ne; i++)
        if (!env[i] || probes.oom || kinds.oom)
            goto out;
    a->payload = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!a->payload)
        goto out;

    uv_pipe_init(n->loop, &a->in, 0);
    uv_timer_init(n->loop, &a->timer);
    a->in.data = a->timer.data = a->proc.data = a;
    a->handles = 3;
    memset(&opts, 0, sizeof(opts));
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&a->in;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    opts.file = rc->command[0];
    opts.args = rc->command;
    opts.env = env;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.exit_cb = on_exit_cb;
    opts.flags = UV_PROCESS_DETACHED; /* its own session, killed as a group */
    err = uv_spawn(n->loop, &a->proc, &opts);
    if (err == 0) {
        uv_buf_t buf = uv_buf_init(a->payload, (unsigned)strlen(a->payload));

        uv_timer_start(&a->timer, on_exec_timeout, rc->timeout_ms, 0);
        if (uv_write(&a->wr, (uv_stream_t *)&a->in, &buf, 1, on_stdin_written) != 0)
            uv_close((uv_handle_t *)&a->in, exec_closed);
    } else {
        log_warn("notify: receiver \"%s\": cannot run %s: %s", a->rs->name, rc->command[0],
                 uv_strerror(err));
        /* the attempt ends in exec_closed, as a failure (not exited) */
        exec_close_all(a);
    }
    err = 0; /* from here on, the end comes through exec_closed */
out:
    for (i = 0; i < ne; i++)
        free(env[i]);
    free(probes.p);
    free(kinds.p);
    return err;
}
