/* httpc — libcurl's multi interface driven by the libuv loop.
 *
 * The shape is curl's "multi_socket" API: curl tells us which sockets it wants watched and for
 * what (on_socket), and when it next needs to be woken up (on_timer). curl's sockets go into an
 * epoll set of our own, and that one descriptor is what the loop watches (one uv_poll_t); when
 * it is readable, on_epoll collects the ready sockets and hands each to curl with
 * curl_multi_socket_action(). The timer is a uv_timer_t. curl never blocks the loop: name
 * resolution runs on curl's threaded resolver, everything else is non-blocking I/O.
 *
 * Why not one uv_poll_t per socket: every check opens a fresh connection, and libuv's poll
 * handle costs, per socket, an ioctl (FIONBIO, which curl has already done), an epoll ADD and
 * DEL to probe the descriptor, and a failed ADD each time curl changes direction (uv_poll_start
 * stops the watcher first), on top of the ADD, MOD and DEL the socket needs: 7 to 8 system calls
 * where the set below makes 3 (bench: docs/BENCH.md). The nested set is plain Linux epoll
 * (vigie runs on Linux: systemd, journald), level-triggered like libuv's own.
 *
 * After every batch of calls into curl we drain curl_multi_info_read(): that is where finished
 * transfers come out, get measured into a struct result and handed to their callback.
 */
#include "net/httpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/container.h"
#include "base/log.h"
#include "base/timex.h"
#include "net/url.h"

struct xfer {
    struct httpc *h;
    CURL *easy;
    struct curl_slist *hdrs;
    struct curl_slist *rcpt; /* SMTP recipients (deliveries) */
    char *upload;            /* SMTP message being read by curl (deliveries) */
    size_t up_len, up_off;
    httpc_done_cb cb;
    void *arg;
    struct xfer *prev, *next; /* in h->xfers, or once done in h->ready (see drain) */
    bool done;                /* out of curl, waiting for its callback in h->ready */
    CURLcode rc;              /* ... with this result */
    uint64_t max_bytes;
    int64_t seen; /* body bytes received, all of them */
    bool keep_body;
    bool too_large;
    bool truncate; /* deliveries: past max_bytes the reply is cut, not an error */
    char *body;    /* kept body, NUL-terminated, ≤ max_bytes */
    size_t len, cap;
    char errbuf[CURL_ERROR_SIZE];
};

/* Easy handles kept for reuse: curl_easy_reset() keeps a handle's buffers, so a check does not
 * pay for allocating (and the kernel for mapping) them again. */
#define IDLE_MAX 1024

struct httpc {
    uv_loop_t *loop;
    CURLM *multi;
    CURL *idle[IDLE_MAX];
    size_t nidle;
    uv_timer_t timer;
    int epfd;       /* curl's sockets (see the top of this file) */
    uv_poll_t poll; /* watches epfd while it holds sockets (nsock) */
    size_t nsock;
    struct epoll_event *batch; /* on_epoll's ready events not handed to curl yet */
    int nbatch;
    struct xfer *xfers;              /* in flight */
    struct xfer *ready, *ready_tail; /* done, callbacks not yet called, in order (drain) */
    size_t active;
    unsigned handles_open; /* timer + poll handle not yet closed */
    bool closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void maybe_closed(struct httpc *h)
{
    if (!h->closing || h->handles_open > 0)
        return;
    void (*cb)(void *) = h->close_cb;
    void *arg = h->close_arg;
    free(h);
    if (cb)
        cb(arg);
}

static void on_poll_closed(uv_handle_t *handle)
{
    struct httpc *h = container_of((uv_poll_t *)handle, struct httpc, poll);

    close(h->epfd);
    h->handles_open--;
    maybe_closed(h);
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct httpc *h = container_of((uv_timer_t *)handle, struct httpc, timer);

    h->handles_open--;
    maybe_closed(h);
}

/* Parses OpenSSL's "Mar 12 00:00:00 2027 GMT" into UNIX time; 0 when it does not parse. */
static int64_t parse_cert_time(const char *s)
{
    char mon[4];
    unsigned d, hh, mm, ss, y, m;

    if (sscanf(s, "%3s %u %u:%u:%u %u", mon, &d, &hh, &mm, &ss, &y) != 6)
        return 0;
    m = timex_month_parse(mon);
    if (m == 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970)
        return 0;
    return timex_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* The leaf certificate's notAfter, from CURLINFO_CERTINFO. */
static int64_t cert_expiry(CURL *easy)
{
    struct curl_certinfo *ci = NULL;
    static const char key[] = "Expire date:";

    if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
        return 0;
    for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
        if (strncmp(s->data, key, sizeof(key) - 1) == 0)
            return parse_cert_time(s->data + sizeof(key) - 1);
    return 0;
}

static enum outcome classify(CURLcode rc, const struct xfer *x)
{
    switch (rc) {
    case CURLE_OK:
        return OUTCOME_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return OUTCOME_DNS;
    case CURLE_COULDNT_CONNECT:
        return OUTCOME_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return OUTCOME_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return OUTCOME_TLS;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        /* Our side: an unreadable CA file or a TLS engine problem is not the service's fault. */
        return OUTCOME_INTERNAL;
    case CURLE_TOO_MANY_REDIRECTS:
        return OUTCOME_REDIRECT_LOOP;
    case CURLE_FILESIZE_EXCEEDED:
        return OUTCOME_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return x->too_large ? OUTCOME_TOO_LARGE : OUTCOME_INTERNAL;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_ABORTED_BY_CALLBACK:
        return OUTCOME_INTERNAL;
    default:
        /* Invalid replies, early close, receive errors, HTTP/2 framing, a redirect to a
         * protocol we do not allow (CURLE_UNSUPPORTED_PROTOCOL). */
        return OUTCOME_PROTOCOL;
    }
}

static int64_t info_time(CURL *easy, CURLINFO what)
{
    curl_off_t t = 0;

    if (curl_easy_getinfo(easy, what, &t) != CURLE_OK || t <= 0)
        return -1;
    return (int64_t)t;
}

/* Fills the transport part of a result from a finished transfer. */
static void measure(struct xfer *x, CURLcode rc, struct result *res)
{
    CURL *e = x->easy;
    const char *eff = NULL;
    long v = 0;

    memset(res, 0, sizeof(*res));
    res->dns_us = info_time(e, CURLINFO_NAMELOOKUP_TIME_T);
    res->connect_us = info_time(e, CURLINFO_CONNECT_TIME_T);
    res->tls_us = info_time(e, CURLINFO_APPCONNECT_TIME_T);
    res->pretransfer_us = info_time(e, CURLINFO_PRETRANSFER_TIME_T);
    res->ttfb_us = info_time(e, CURLINFO_STARTTRANSFER_TIME_T);
    res->total_us = info_time(e, CURLINFO_TOTAL_TIME_T);
    res->redirect_us = info_time(e, CURLINFO_REDIRECT_TIME_T);
    if (res->redirect_us < 0)
        res->redirect_us = 0;
    if (res->total_us < 0)
        res->total_us = 0;
    res->response_us = -1;
    if (res->ttfb_us >= 0 && res->pretransfer_us >= 0 && res->ttfb_us >= res->pretransfer_us)
        res->response_us = res->ttfb_us - res->pretransfer_us;
    if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &v) == CURLE_OK)
        res->status = v;
    if (curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &v) == CURLE_OK)
        res->redirects = v;
    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) == CURLE_OK)
        res->http_version = v == CURL_HTTP_VERSION_1_0   ? 10
                            : v == CURL_HTTP_VERSION_1_1 ? 11
                            : v == CURL_HTTP_VERSION_2_0 ? 20
                            : v == CURL_HTTP_VERSION_3   ? 30
                                                         : 0;
    res->bytes = x->seen;
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
        url_redact(eff, res->url, sizeof(res->url));
    res->cert_expiry = cert_expiry(e);
    res->outcome = classify(rc, x);
    if (rc == CURLE_OUT_OF_MEMORY && res->status > 0) {
        /* curl reports response headers over its 100 KiB limit as "out of memory": with a
         * status line already parsed, that is the server's fault. */
        res->outcome = OUTCOME_PROTOCOL;
        snprintf(res->msg, sizeof(res->msg), "response headers too large (curl: %.200s)",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    } else if (res->outcome == OUTCOME_TOO_LARGE)
        snprintf(res->msg, sizeof(res->msg), "body larger than %llu bytes",
                 (unsigned long long)x->max_bytes);
    else if (rc != CURLE_OK)
        snprintf(res->msg, sizeof(res->msg), "%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    res->verdict = res->outcome == OUTCOME_OK ? VERDICT_OK : VERDICT_DOWN;
}

static void xfer_free(struct xfer *x)
{
    struct httpc *h = x->h;

    if (x->easy) {
        if (!h->closing && h->nidle < IDLE_MAX) {
            curl_easy_reset(x->easy);
            h->idle[h->nidle++] = x->easy;
        } else {
            curl_easy_cleanup(x->easy);
        }
    }
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->rcpt);
    free(x->upload);
    free(x->body);
    free(x);
}

static void xfer_unlink(struct xfer *x)
{
    struct httpc *h = x->h;

    if (x->prev)
        x->prev->next = x->next;
    else if (x->done)
        h->ready = x->next;
    else
        h->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else if (x->done)
        h->ready_tail = x->prev;
    if (!x->done)
        h->active--;
    x->prev = x->next = NULL;
}

/* Ends one transfer: measure, detach from curl (a no-op if drain did), call back, free. */
static void xfer_finish(struct xfer *x, CURLcode rc, const char *why)
{
    struct result res;

    measure(x, rc, &res);
    if (why) {
        res.outcome = OUTCOME_INTERNAL;
        res.verdict = VERDICT_DOWN;
        res.aborted = 1;
        snprintf(res.msg, sizeof(res.msg), "%s", why);
    }
    curl_multi_remove_handle(x->h->multi, x->easy);
    xfer_unlink(x);
    x->cb(x->arg, &res, x->keep_body ? (x->body ? x->body : "") : NULL, x->len);
    xfer_free(x);
}

static void drain(struct httpc *h)
{
    struct xfer *first = NULL;
    CURLMsg *msg;
    int pending;

    /* Every message first, then the handles out of curl: curl_multi_remove_handle (7.88)
     * searches the messages not read yet for the handle's, so removing each transfer as its
     * message is read costs the square of their number, and a loop that falls behind gets
     * thousands at once (the timeouts of one late timer: 3,500 unread on average at 8,000
     * checks/s, which kept the loop saturated). */
    while (h->multi && (msg = curl_multi_info_read(h->multi, &pending))) {
        struct xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        x->rc = msg->data.result;
        xfer_unlink(x);
        x->done = true;
        x->prev = h->ready_tail;
        if (h->ready_tail)
            h->ready_tail->next = x;
        else
            h->ready = x;
        h->ready_tail = x;
        if (!first)
            first = x;
    }
    for (struct xfer *x = first; x; x = x->next)
        curl_multi_remove_handle(h->multi, x->easy);
    /* Then the callbacks, in order. They may start, cancel or abort transfers, these included
     * (httpc_cancel and httpc_abort_all finish done ones with their own result). */
    while (h->ready)
        xfer_finish(h->ready, h->ready->rc, NULL);
}

/* The epoll set is readable: hand its ready sockets to curl, at most a batch per loop turn
 * (level-triggered: the rest wake us on the next). A socket curl stops watching while the batch
 * runs (an expired timer ended its transfer) has its pending event voided by on_socket, so a
 * descriptor number reused meanwhile by a new socket never gets the old one's event. */
static void on_epoll(uv_poll_t *handle, int status, int events)
{
    struct httpc *h = container_of(handle, struct httpc, poll);
    struct epoll_event ev[256];
    int n, running;

    (void)events;
    if (status < 0) { /* not seen with an epoll descriptor; libuv has stopped the handle */
        log_err("http: the socket set failed: %s", uv_strerror(status));
        return;
    }
    n = epoll_wait(h->epfd, ev, (int)(ARRAY_SIZE(ev)), 0);
    for (int i = 0; i < n; i++) {
        uint32_t e = ev[i].events;
        int flags = 0;

        if (ev[i].data.fd < 0)
            continue;
        if (e & (EPOLLIN | EPOLLHUP))
            flags |= CURL_CSELECT_IN;
        if (e & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (e & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        h->batch = ev + i + 1;
        h->nbatch = n - i - 1;
        curl_multi_socket_action(h->multi, ev[i].data.fd, flags, &running);
    }
    h->batch = NULL;
    h->nbatch = 0;
    drain(h);
}

static void on_timeout(uv_timer_t *timer)
{
    struct httpc *h = container_of(timer, struct httpc, timer);
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(h);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called back in timeout_ms (-1: never). We must not
 * call into curl from here, so even a 0 ms timeout goes through the loop. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. curl's per-socket
 * pointer (socketp) is only a mark: non-NULL once the socket is in the epoll set. Should the
 * mark and the kernel disagree (curl closing a socket without telling us, the number reused),
 * ADD and MOD fall back on each other: a failure here would end every transfer of the multi
 * handle for good. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    static char in_set;
    struct httpc *h = userp;
    struct epoll_event ev = {.data.fd = fd};
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        for (int i = 0; i < h->nbatch; i++)
            if (h->batch[i].data.fd == fd)
                h->batch[i].data.fd = -1;
        if (socketp) {
            curl_multi_assign(h->multi, fd, NULL);
            epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, &ev);
            if (--h->nsock == 0)
                uv_poll_stop(&h->poll); /* nothing to wait for: let the loop end */
        }
        return 0;
    }
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(h->epfd, op, fd, &ev) != 0 &&
        ((op == EPOLL_CTL_ADD && errno != EEXIST) || (op == EPOLL_CTL_MOD && errno != ENOENT) ||
         epoll_ctl(h->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)) {
        log_err("http: cannot watch socket %d: %s", (int)fd, strerror(errno));
        return -1;
    }
    if (!socketp) {
        curl_multi_assign(h->multi, fd, &in_set);
        if (h->nsock++ == 0)
            uv_poll_start(&h->poll, UV_READABLE, on_epoll);
    }
    return 0;
}

/* CURLOPT_WRITEFUNCTION: count every byte, keep up to the cap when asked, stop past the cap. */
static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;

    x->seen += (int64_t)len;
    if ((uint64_t)x->seen > x->max_bytes) {
        if (x->truncate)
            return len;
        x->too_large = true;
        return 0;
    }
    if (x->keep_body && len > 0) {
        if (x->len + len + 1 > x->cap) {
            size_t cap = x->cap ? x->cap : 4096;
            char *p;

            while (cap < x->len + len + 1)
                cap *= 2;
            p = realloc(x->body, cap);
            if (!p)
                return 0;
            x->body = p;
            x->cap = cap;
        }
        memcpy(x->body + x->len, data, len);
        x->len += len;
        x->body[x->len] = '\0';
    }
    return len;
}

/* Any failing setopt is remembered; they all run so the first error is not masked. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        CURLcode c_ = curl_easy_setopt(e, opt, val);                                               \
        if (c_ != CURLE_OK && rc == CURLE_OK)                                                      \
            rc = c_;                                                                               \
    } while (0)

/* What every transfer sets: its URL, its owner, its error text, its body sink, the protocols it
 * may use, no proxy from the environment (the service is measured, not a proxy named in
 * http_proxy), and no wait for the resolver thread of a timed-out lookup (that wait would block
 * the loop). */
static CURLcode set_base(struct xfer *x, const char *url, const char *protocols)
{
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;

    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_PROTOCOLS_STR, protocols);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_QUICK_EXIT, 1L);
    return rc;
}

static int setup(struct xfer *x, const struct httpc_req *r)
{
    CURL *e = x->easy;
    static const long ipresolve[] = {CURL_IPRESOLVE_WHATEVER, CURL_IPRESOLVE_V4, CURL_IPRESOLVE_V6};
    static const long httpv[] = {CURL_HTTP_VERSION_2TLS, CURL_HTTP_VERSION_1_1,
                                 CURL_HTTP_VERSION_2_0};
    CURLcode rc = CURLE_OK;

    for (size_t i = 0; i < r->nheaders; i++) {
        size_t len = strlen(r->headers[i].name) + strlen(r->headers[i].value) + 3;
        char *line = malloc(len);
        struct curl_slist *l = NULL;

        if (line) {
            snprintf(line, len, "%s: %s", r->headers[i].name, r->headers[i].value);
            l = curl_slist_append(x->hdrs, line);
            free(line);
        }
        if (!l)
            return -ENOMEM;
        x->hdrs = l;
    }
    rc = set_base(x, r->url, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* Configured headers may carry tokens, and libcurl sends custom headers (all but
     * Authorization and Cookie) to whatever host a redirect names: a request with headers
     * follows no redirect, its first answer is judged. */
    SET(CURLOPT_FOLLOWLOCATION, r->follow_redirects && r->nheaders == 0 ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, r->max_redirects);
    SET(CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
    SET(CURLOPT_IPRESOLVE, ipresolve[r->ip]);
    SET(CURLOPT_HTTP_VERSION, httpv[r->http]);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    if (r->user_agent)
        SET(CURLOPT_USERAGENT, r->user_agent);
    if (x->hdrs)
        SET(CURLOPT_HTTPHEADER, x->hdrs);
    if (r->method && strcmp(r->method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L);
    if (!r->reuse) {
        /* What a new visitor experiences: its own DNS lookup, TCP and TLS handshakes. */
        SET(CURLOPT_FRESH_CONNECT, 1L);
        SET(CURLOPT_FORBID_REUSE, 1L);
        SET(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    }
    SET(CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
    if (r->ca_file)
        SET(CURLOPT_CAINFO, r->ca_file);
    /* Also for http URLs: they may redirect to https. */
    SET(CURLOPT_CERTINFO, 1L);
    if (rc != CURLE_OK) {
        char url[RESULT_URL_MAX];

        url_redact(r->url, url, sizeof(url));
        log_err("cannot set up a transfer of %s: %s", url, curl_easy_strerror(rc));
    }
    return rc == CURLE_OK ? 0 : (rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL);
}

/* A transfer for h with an easy handle from the pool (or a new one), not started. */
static int xfer_new(struct httpc *h, httpc_done_cb cb, void *arg, uint64_t max_bytes,
                    bool keep_body, struct xfer **out)
{
    struct xfer *x;

    if (h->closing)
        return -ECANCELED;
    x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->h = h;
    x->cb = cb;
    x->arg = arg;
    x->max_bytes = max_bytes;
    x->keep_body = keep_body;
    x->easy = h->nidle > 0 ? h->idle[--h->nidle] : curl_easy_init();
    if (!x->easy) {
        xfer_free(x);
        return -ENOMEM;
    }
    *out = x;
    return 0;
}

static int xfer_fail(struct xfer *x, int err)
{
    xfer_free(x);
    return err;
}

/* Hands a set-up transfer to the multi handle. */
static int xfer_start(struct xfer *x)
{
    struct httpc *h = x->h;

    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
        return xfer_fail(x, -ENOMEM);
    x->next = h->xfers;
    if (h->xfers)
        h->xfers->prev = x;
    h->xfers = x;
    h->active++;
    return 0;
}

int httpc_submit(struct httpc *h, const struct httpc_req *req, httpc_done_cb cb, void *arg)
{
    struct xfer *x;
    int err = xfer_new(h, cb, arg, req->max_bytes, req->keep_body, &x);

    if (err)
        return err;
    err = setup(x, req);
    return err ? xfer_fail(x, err) : xfer_start(x);
}

/* CURLOPT_READFUNCTION for SMTP uploads: the message, from memory. */
static size_t on_upload(char *buf, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;

    if (len > x->up_len - x->up_off)
        len = x->up_len - x->up_off;
    memcpy(buf, x->upload + x->up_off, len);
    x->up_off += len;
    return len;
}

static int append_header(struct xfer *x, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    struct curl_slist *l = NULL;

    if (line) {
        snprintf(line, len, "%s:%s%s", name, *value ? " " : "", value);
        l = curl_slist_append(x->hdrs, line);
        free(line);
    }
    if (!l)
        return -ENOMEM;
    x->hdrs = l;
    return 0;
}

static int setup_send(struct xfer *x, const struct httpc_send *r)
{
    CURL *e = x->easy;
    bool smtp = strncasecmp(r->url, "smtp", 4) == 0;
    CURLcode rc = CURLE_OK;

    for (size_t i = 0; !smtp && i < r->nheaders; i++)
        if (append_header(x, r->headers[i].name, r->headers[i].value) < 0)
            return -ENOMEM;
    /* No "Expect: 100-continue" round trip (and its one-second wait on servers that ignore
     * it) before a body of a few kilobytes. */
    if (!smtp && append_header(x, "Expect", "") < 0)
        return -ENOMEM;
    for (size_t i = 0; smtp && i < r->nrcpt; i++) {
        struct curl_slist *l = curl_slist_append(x->rcpt, r->rcpt[i]);

        if (!l)
            return -ENOMEM;
        x->rcpt = l;
    }
    rc = set_base(x, r->url, smtp ? "smtp,smtps" : "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* A connection of its own, never kept: libcurl 7.88 hands a STARTTLS-required transfer a
     * cached cleartext connection to the same server (left by a starttls: optional receiver)
     * and sends the mail in clear (test_notify's smtp_starttls_required_or_optional). Deliveries
     * are rare; a handshake each costs nothing that matters. */
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
    SET(CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
    if (r->ca_file)
        SET(CURLOPT_CAINFO, r->ca_file);
    if (r->user_agent && !smtp)
        SET(CURLOPT_USERAGENT, r->user_agent);
    if (r->username)
        SET(CURLOPT_USERNAME, r->username);
    if (r->password)
        SET(CURLOPT_PASSWORD, r->password);
    if (smtp) {
        x->upload = malloc(r->len ? r->len : 1);
        if (!x->upload)
            return -ENOMEM;
        memcpy(x->upload, r->body, r->len);
        x->up_len = r->len;
        SET(CURLOPT_MAIL_FROM, r->mail_from);
        SET(CURLOPT_MAIL_RCPT, x->rcpt);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_upload);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
        SET(CURLOPT_USE_SSL, r->starttls_optional ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    } else {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
        SET(CURLOPT_COPYPOSTFIELDS, r->body);
        SET(CURLOPT_HTTPHEADER, x->hdrs);
    }
#undef SET
    if (rc != CURLE_OK) {
        char url[RESULT_URL_MAX];

        url_redact(r->url, url, sizeof(url));
        log_err("cannot set up a delivery to %s: %s", url, curl_easy_strerror(rc));
    }
    return rc == CURLE_OK ? 0 : (rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL);
}

int httpc_send(struct httpc *h, const struct httpc_send *req, httpc_done_cb cb, void *arg)
{
    struct xfer *x;
    int err = xfer_new(h, cb, arg, 16 * 1024, true, &x);

    if (err)
        return err;
    x->truncate = true;
    err = setup_send(x, req);
    return err ? xfer_fail(x, err) : xfer_start(x);
}

void httpc_cancel(struct httpc *h, void *arg)
{
    for (struct xfer *x = h->ready; x;) {
        if (x->arg == arg) {
            xfer_finish(x, x->rc, NULL); /* done already: its own result */
            x = h->ready;                /* the list changed under us: start over */
        } else {
            x = x->next;
        }
    }
    for (struct xfer *x = h->xfers; x;) {
        if (x->arg == arg) {
            xfer_finish(x, CURLE_OK, "aborted");
            x = h->xfers;
        } else {
            x = x->next;
        }
    }
}

size_t httpc_active(const struct httpc *h)
{
    return h->active;
}

struct httpc *httpc_new(uv_loop_t *loop)
{
    struct httpc *h = calloc(1, sizeof(*h));
    int err;

    if (!h)
        return NULL;
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi)
        goto fail_multi;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    err = h->epfd < 0 ? -errno : uv_poll_init(loop, &h->poll, h->epfd);
    if (err != 0) { /* (a failed uv_poll_init leaves nothing registered on the loop) */
        log_err("http: cannot create the socket set: %s", uv_strerror(err));
        goto fail_poll;
    }
    if (uv_timer_init(loop, &h->timer) != 0) { /* (libuv's never fails) */
        h->closing = true;
        h->handles_open = 1;
        curl_multi_cleanup(h->multi);
        uv_close((uv_handle_t *)&h->poll, on_poll_closed);
        return NULL;
    }
    h->handles_open = 2;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
fail_poll:
    if (h->epfd >= 0)
        close(h->epfd);
    curl_multi_cleanup(h->multi);
fail_multi:
    free(h);
    return NULL;
}

void httpc_abort_all(struct httpc *h)
{
    while (h->ready)
        xfer_finish(h->ready, h->ready->rc, NULL);
    while (h->xfers)
        xfer_finish(h->xfers, CURLE_OK, "aborted");
}

void httpc_close(struct httpc *h, void (*cb)(void *arg), void *arg)
{
    h->closing = true;
    h->close_cb = cb;
    h->close_arg = arg;
    httpc_abort_all(h);
    while (h->nidle > 0)
        curl_easy_cleanup(h->idle[--h->nidle]);
    /* Closing the multi handle closes cached connections, which calls on_socket(REMOVE) for
     * their sockets: they leave the epoll set there, which closes after the poll handle. */
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

int httpc_global_init(void)
{
    struct rlimit rl;

    /* One socket per check in flight: lift the soft descriptor limit to the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void httpc_global_cleanup(void)
{
    curl_global_cleanup();
}

const char *httpc_version(void)
{
    return curl_version();
}
