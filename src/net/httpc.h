/* httpc — the transfers: the checks' requests (httpc_submit) and the deliveries of notify (an
 * HTTP POST or an SMTP message, httpc_send), on libcurl's multi interface driven by the libuv
 * loop. It owns the one CURLM: one uv_timer_t for curl's timeouts and one uv_poll_t on an epoll
 * set of httpc's own that holds curl's sockets (docs/DESIGN.md says why not a uv_poll_t per
 * socket); no polling loop and no blocking call on the loop thread (curl's threaded resolver
 * does DNS off the loop). URLs themselves (checks, host keys, redaction) are net/url's.
 *
 * A transfer is submitted with everything it needs (struct httpc_req or httpc_send, copied);
 * when it ends, the completion callback receives the measured struct result (phases, status,
 * error class) and the body bytes kept (up to the cap, only when asked for). */
#ifndef VIGIE_HTTPC_H
#define VIGIE_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http.h"
#include "net/result.h"

struct httpc;

struct httpc_req {
    const char *url;
    const char *method; /* "GET" (default when NULL) or "HEAD" */
    const struct header *headers;
    size_t nheaders;
    const char *user_agent;
    uint64_t timeout_ms;
    uint64_t connect_timeout_ms;
    bool follow_redirects;
    long max_redirects;
    enum ip_version ip;
    enum http_version http;
    bool reuse;
    bool tls_verify;
    const char *ca_file;
    uint64_t max_bytes; /* past this many body bytes the transfer stops: too_large */
    bool keep_body;     /* keep the body (≤ max_bytes) for content expectations */
};

/* Called once per submitted request, on the loop thread. `body` (len bytes, NUL-terminated) is
 * valid only during the call and is NULL unless keep_body was set. The result's outcome is the
 * transport's (ok, dns, connect, tls, timeout, too_large, redirect_loop, protocol, internal); the
 * verdict is left to the caller. */
typedef void (*httpc_done_cb)(void *arg, struct result *res, const char *body, size_t len);

/* Creates the client on `loop`. Call curl_global_init first (httpc_global_init). Returns NULL on
 * failure. */
struct httpc *httpc_new(uv_loop_t *loop);

/* Starts a transfer now. Returns 0, or a negative errno if it could not be started (the callback
 * is then not called). */
int httpc_submit(struct httpc *h, const struct httpc_req *req, httpc_done_cb cb, void *arg);

/* A delivery (notify's webhooks, Alertmanager and mail): an HTTP POST of a body, or an SMTP
 * message. Everything is copied at submission. Never follows redirects, ignores proxies named in
 * the environment, and never reuses the check path's settings: a check costs what it did. */
struct httpc_send {
    const char *url;              /* http(s)://... (POST) or smtp(s)://... (mail) */
    const struct header *headers; /* HTTP only: extra request headers */
    size_t nheaders;
    const char *user_agent;
    const char *body; /* the POST body or the whole message (headers, CRLF lines) */
    size_t len;
    uint64_t timeout_ms;
    bool tls_verify;
    const char *ca_file;
    /* SMTP */
    const char *mail_from;
    const char *const *rcpt;
    size_t nrcpt;
    const char *username; /* with password: SMTP AUTH */
    const char *password;
    bool starttls_optional; /* smtp://: STARTTLS when offered; default: required */
};

/* Starts a delivery. The callback is httpc_done_cb: the result's outcome is ok when the transfer
 * completed (then `status` is the HTTP status, or the last SMTP reply code), and the response
 * body (≤ 16 KiB, HTTP only) is passed for error messages. `arg` also identifies the transfer to
 * httpc_cancel. Returns 0, or a negative errno (the callback is then not called). */
int httpc_send(struct httpc *h, const struct httpc_send *req, httpc_done_cb cb, void *arg);

/* Ends now every transfer submitted with this `arg` (their callbacks run, outcome internal,
 * aborted). Linear in the transfers in flight: for shutting a user down, not for the hot path. */
void httpc_cancel(struct httpc *h, void *arg);

/* Transfers in flight. */
size_t httpc_active(const struct httpc *h);

/* Ends every transfer in flight now: each callback runs once, with outcome internal and the
 * message "aborted". */
void httpc_abort_all(struct httpc *h);

/* Aborts transfers still in flight (their callbacks run with outcome internal, "aborted") and
 * closes the loop handles; `cb` runs once everything is closed and h has been freed. */
void httpc_close(struct httpc *h, void (*cb)(void *arg), void *arg);

/* Process-wide set-up: libcurl, and the descriptor limit raised to its hard limit (one socket per
 * check in flight). Call once from main before any thread starts. */
int httpc_global_init(void);
void httpc_global_cleanup(void);

/* libcurl's version string, for `vigie version`. */
const char *httpc_version(void);

#endif
