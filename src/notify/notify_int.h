/* notify_int — what the files of src/notify/ share; not for use outside the module.
 *
 * The module, one file per concern (the cut of curl's vtls/):
 *   notify.c   the receivers' queues, rate limits, backoff, the pump and the API of notify.h;
 *   spool.c    the spool on disk: writes, removals, the scan that resumes it at start;
 *   render.c   the text of a notification: mail, Slack/Mattermost, Alertmanager bodies;
 *   exec.c     the exec back-end (a program, no shell, the notification on its stdin);
 *   webhook.c  the deliveries through httpc: webhooks, Alertmanager, and their completion;
 *   smtp.c     the SMTP back-end (a mail through httpc).
 *
 * Everything here runs on the loop thread, but the spool's file operations in spool.c. */
#ifndef VIGIE_NOTIFY_INT_H
#define VIGIE_NOTIFY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "notify/notify.h"

#define ERR_MAX 256

struct rstate;

/* One pending notification. */
struct item {
    struct item *next; /* in its receiver's queue, or in the early list */
    json_t *j;
    char *id;
    char *rname;
    struct rstate *rs;
    bool spooled; /* its file exists (remove it once accepted) */
    bool writing; /* its spool file is being written: not deliverable yet */
};

struct rstate {
    struct rstate *next;
    char *name;
    const struct receiver *rc; /* NULL: not configured (its items wait, orphaned) */
    struct item *head, *tail;
    size_t queued;
    struct attempt *busy; /* the attempt in flight */
    uint64_t retry_at;    /* uv_now() ms before which nothing is tried; 0: now */
    unsigned failures;    /* consecutive failed attempts */
    bool held;            /* the rate limit is spent */
    bool held_logged;     /* said so once for this episode */
    uint64_t *ring;       /* times of the last rate_limit deliveries */
    size_t ring_cap, ring_len, ring_head;
    char last_err[64]; /* the cause logged last ("" when delivering fine) */
    struct notify_stats st;
};

struct attempt {
    struct notify *n;
    struct rstate *rs;
    struct item *it;
    bool exec;
    char prog[256]; /* exec: the program, for messages (the receiver may be reloaded away) */
    /* exec */
    uv_process_t proc;
    uv_pipe_t in;
    uv_timer_t timer;
    uv_write_t wr;
    char *payload;
    int handles; /* exec handles not yet closed */
    bool exited, timed_out;
    int64_t exit_status;
    int term_signal;
};

struct notify {
    uv_loop_t *loop;
    struct httpc *h;
    const struct config *cfg;
    char *dir;
    uv_timer_t timer;
    struct rstate *rs;
    struct item *early, *early_tail; /* submitted before the scan ended */
    bool scanned;
    bool closing;
    unsigned busy; /* spool operations, attempts and the timer, until closed */
    uint64_t seq;
    uint64_t rng;
    uint64_t spool_errors;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* A string member of a JSON object, "" when it is missing or not a string. */
static inline const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

/* ---- notify.c ---- */

/* Checks the notification format (notify.h); NULL or why not. */
const char *notify_check(const json_t *j);

/* Frees a pending notification; NULL is a no-op. */
void notify_item_free(struct item *it);

/* Appends it to its receiver's queue (created if need be), or frees it when out of memory. */
void notify_enqueue(struct notify *n, struct item *it);

/* Starts what may start now, arms the timer for what may start later. Every completion ends in
 * it (but while closing, in notify_maybe_closed). */
void notify_pump(struct notify *n);

/* While closing: frees n and runs the close callback once nothing is busy any more. */
void notify_maybe_closed(struct notify *n);

/* An attempt ended. `rejected`: the receiver refused this notification (not a transport
 * problem): it goes behind the others. `key` names the cause without the details that vary from
 * one attempt to the next (curl's timings), `why` says it all. */
void notify_attempt_end(struct notify *n, struct rstate *rs, struct item *it, bool ok,
                        bool rejected, const char *key, const char *why);

void notify_attempt_free(struct attempt *a);

/* ---- the back-ends: each starts the delivery of a->it to a->rs->rc, and returns 0 (the attempt
 * then ends through notify_attempt_end, notify_attempt_free and notify_pump, or while closing
 * notify_maybe_closed) or a negative errno (nothing started, the caller ends the attempt). ---- */

/* exec.c */
int exec_start(struct notify *n, struct attempt *a);

/* Kills a running program and its process group; the attempt then ends as a failure. */
void exec_kill(struct attempt *a);

/* webhook.c: webhooks and Alertmanager. */
int webhook_start(struct notify *n, struct attempt *a);

/* httpc's completion of a webhook, mail or Alertmanager delivery (arg: the attempt). */
void webhook_sent(void *arg, struct result *res, const char *body, size_t len);

/* smtp.c */
int smtp_start(struct notify *n, struct attempt *a);

/* ---- spool.c: each starts an operation on the thread pool; a failure to start is counted in
 * spool_errors and logged (delivery goes on from memory). ---- */

/* Reads the spool back in (creating the directory), then queues what it found and the early
 * list. Returns 0, or a negative errno when the scan could not start (nothing counted). */
int spool_start_scan(struct notify *n);

/* Writes the file of an item already queued; it is not delivered before that is done. */
void spool_start_write(struct notify *n, struct item *it);

/* Removes the file of a delivered notification. */
void spool_start_remove(struct notify *n, const char *id);

/* ---- render.c ---- */

struct sbuf;

/* Adds s with CR and LF replaced by spaces (for header lines and one-line fields). */
void render_line(struct sbuf *b, const char *s);

/* The whole mail to rc: headers (From, To, an RFC 2047 Subject, Date, Message-ID...), an empty
 * line, the text with CRLF line ends, lines cut under SMTP's limit. Out of memory sets b->oom. */
void render_mail(struct sbuf *b, const json_t *j, const struct receiver *rc);

/* The body of an HTTP delivery to rc (a webhook in its template, or Alertmanager's v2 alerts).
 * The caller owns it (free); NULL when out of memory. */
char *render_body(const json_t *j, const struct receiver *rc);

#endif
