/*
 * http — HTTP on the http and TLS listeners: the request, and the behaviours its query asks for.
 *
 * Requests: HTTP/1.1 GET, HEAD or POST (HEAD: headers only; other methods: 405) on any path; the
 * head ends with an empty line (CRLF, bare LF tolerated) and is capped at 64 KiB (400 beyond);
 * request bodies are not read, but a POST's (webhook.c). Responses carry `Connection: close` and
 * the connection is closed after one response, unless the query has keepalive=1. The query
 * parameters drive the response and combine:
 *
 *   delay=MS         wait MS ms after the request head is read, before sending anything
 *   status=N         status code (default 200, 100..999), with its reason phrase
 *   body=TEXT        body (percent-decoded: only %XX sequences, '+' stays '+'; default "ok\n")
 *   size=N           body of N 'x' bytes, streamed (never held in memory)
 *   drip=MS          send the body one byte at a time, waiting MS ms before each byte (the
 *                    headers go at once, with the full Content-Length)
 *   redirect=N       302 to the same URL with redirect=N-1 (other parameters kept, absolute
 *                    Location http(s)://127.0.0.1:PORT/...); at 0 behave normally
 *   loop=1           302 to exactly the same URL (an endless redirect loop)
 *   location=URL     302 with Location: URL (percent-decoded)
 *   mode=silence     read the request, never answer; the connection stays open until the client
 *                    closes it
 *   mode=close       headers with Content-Length: 1000, then 100 bytes of body, then close
 *   mode=stall       headers with Content-Length: 1000, then 100 bytes of body, then nothing:
 *                    the connection stays open until the client closes it (a stalled body)
 *   mode=garbage     send "THIS IS NOT HTTP\r\n\r\n" and close
 *   mode=hugeheader  a valid status line, one 200 KiB header line, then the normal response
 *   mode=reset       close at once with SO_LINGER 0 (TCP RST), without answering
 *   header=Name:Val  add a response header (repeatable, percent-decoded, up to 32); a
 *                    Content-Type or Content-Length given this way replaces the default one
 *   echo=1           the body is the raw request head received
 *   keepalive=1      answer `Connection: keep-alive` and wait for the next request
 *   cycle=S1,S2,..   the n-th request of this exact URL (path and query) gets status S(n mod k)
 *   cycle_delay=D1,D2,..  and waits D(n mod k) ms (added to delay=): known mixes of outcomes
 *                    and latencies, for tests that check averages
 *   down=NAME        status 503 while DIR/NAME exists (webhook.c)
 *
 * Precedence: mode=silence|reset|garbage replace the response. Otherwise location, else loop,
 * else redirect>0 make it a 302 with an empty body (status= then applies to the final hop only);
 * else the body is echo, else size, else body, else "ok\n". mode=close, mode=stall and
 * mode=hugeheader alter whichever response results. 1xx, 204 and 304 responses have no body and no
 * Content-Length. delay applies to every mode; keepalive=1 only to normal and hugeheader responses.
 * A repeated parameter takes its last value (header= accumulates); unknown parameters and malformed
 * values are ignored. Every response but those of mode=garbage carries Content-Type: text/plain
 * (unless header= gives one).
 */
#include "testsrv_int.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HUGE_HEADER (200 * 1024) /* mode=hugeheader: length of the header line */
#define MAX_HEADERS 32           /* header= parameters kept */

enum mode {
    MODE_NORMAL,
    MODE_SILENCE,
    MODE_CLOSE,
    MODE_STALL,
    MODE_GARBAGE,
    MODE_HUGEHEADER,
    MODE_RESET
};

/* A parsed request. Strings are owned by the request (req_fini). */
struct req {
    int head_only;
    int post;
    const char *down; /* NULL: not given */
    char *path;       /* raw path of the request-target */
    char *query;      /* raw query, without '?' ("" if none) */
    char *qbuf;       /* split and decoded copy of the query; the parameters below point into it */
    long delay, drip;
    long long size; /* -1: not given */
    int status;
    long redirect; /* -1: not given */
    int loop, echo, keepalive;
    enum mode mode;
    const char *body;     /* NULL: not given */
    const char *location; /* NULL: not given */
    const char *hdr[MAX_HEADERS];
    int nhdr;
    const char *cycle;       /* NULL: not given */
    const char *cycle_delay; /* NULL: not given */
};

/* Request counters per URL for cycle= and cycle_delay=, indexed by a hash of path and query. */
#define CYCLE_SLOTS 4096
static atomic_ulong cycle_count[CYCLE_SLOTS];

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX sequences in place; a malformed '%' is kept as it is. */
static void pct_decode(char *s)
{
    char *w = s;

    for (const char *r = s; *r; r++) {
        int hi, lo;

        if (*r == '%' && (hi = hexval((unsigned char)r[1])) >= 0 &&
            (lo = hexval((unsigned char)r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static const char *reason(int status)
{
    static const struct {
        int code;
        const char *text;
    } tab[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {410, "Gone"},
        {418, "I'm a teapot"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (tab[i].code == status)
            return tab[i].text;
    return "Unknown";
}

static void req_fini(struct req *rq)
{
    free(rq->path);
    free(rq->query);
    free(rq->qbuf);
}

/* Applies one query parameter (value already decoded). */
static void req_param(struct req *rq, const char *key, const char *val)
{
    long long v;

    if (!strcmp(key, "delay") && !parse_num(val, 0, 3600000, &v))
        rq->delay = (long)v;
    else if (!strcmp(key, "drip") && !parse_num(val, 0, 60000, &v))
        rq->drip = (long)v;
    else if (!strcmp(key, "size") && !parse_num(val, 0, 1000000000000LL, &v))
        rq->size = v;
    else if (!strcmp(key, "status") && !parse_num(val, 100, 999, &v))
        rq->status = (int)v;
    else if (!strcmp(key, "redirect") && !parse_num(val, 0, 1000000, &v))
        rq->redirect = (long)v;
    else if (!strcmp(key, "loop"))
        rq->loop = !strcmp(val, "1");
    else if (!strcmp(key, "echo"))
        rq->echo = !strcmp(val, "1");
    else if (!strcmp(key, "keepalive"))
        rq->keepalive = !strcmp(val, "1");
    else if (!strcmp(key, "body"))
        rq->body = val;
    else if (!strcmp(key, "cycle"))
        rq->cycle = val;
    else if (!strcmp(key, "down") && !strchr(val, '/') && val[0] && val[0] != '.')
        rq->down = val;
    else if (!strcmp(key, "cycle_delay"))
        rq->cycle_delay = val;
    else if (!strcmp(key, "location") && !has_crlf(val))
        rq->location = val;
    else if (!strcmp(key, "header") && rq->nhdr < MAX_HEADERS && !has_crlf(val) &&
             strchr(val, ':') && val[0] != ':')
        rq->hdr[rq->nhdr++] = val;
    else if (!strcmp(key, "mode")) {
        if (!strcmp(val, "silence"))
            rq->mode = MODE_SILENCE;
        else if (!strcmp(val, "close"))
            rq->mode = MODE_CLOSE;
        else if (!strcmp(val, "stall"))
            rq->mode = MODE_STALL;
        else if (!strcmp(val, "garbage"))
            rq->mode = MODE_GARBAGE;
        else if (!strcmp(val, "hugeheader"))
            rq->mode = MODE_HUGEHEADER;
        else if (!strcmp(val, "reset"))
            rq->mode = MODE_RESET;
        else if (!strcmp(val, "normal"))
            rq->mode = MODE_NORMAL;
    }
}

static void req_cycle(struct req *rq);

/* Parses the request line of `head` (head_len bytes, ending with an empty line). Returns 0, -1 for
 * a malformed request (400), -2 for a method other than GET/HEAD (405), -3 out of memory. */
static int req_parse(struct req *rq, const char *head, size_t head_len)
{
    const char *eol = memchr(head, '\n', head_len);
    const char *sp1, *sp2, *target, *q;
    size_t mlen, tlen;

    memset(rq, 0, sizeof(*rq));
    rq->size = -1;
    rq->status = 200;
    rq->redirect = -1;
    if (!eol)
        return -1;
    if (eol > head && eol[-1] == '\r')
        eol--;
    sp1 = memchr(head, ' ', (size_t)(eol - head));
    if (!sp1)
        return -1;
    target = sp1 + 1;
    sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!sp2 || sp2 == target)
        return -1;
    if (eol - (sp2 + 1) < 7 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    mlen = (size_t)(sp1 - head);
    tlen = (size_t)(sp2 - target);
    /* absolute-form (a request meant for a proxy): keep the path only */
    if (tlen > 7 && (!memcmp(target, "http://", 7) || !memcmp(target, "https://", 8))) {
        const char *slash = memchr(target + 8, '/', tlen - 8);
        const char *end = target + tlen;

        target = slash ? slash : end;
        tlen = (size_t)(end - target);
    }
    if (tlen == 0) {
        target = "/";
        tlen = 1;
    }
    if (target[0] != '/' || memchr(target, '\0', tlen))
        return -1;
    q = memchr(target, '?', tlen);
    rq->path = strndup(target, q ? (size_t)(q - target) : tlen);
    rq->query = q ? strndup(q + 1, tlen - (size_t)(q + 1 - target)) : strdup("");
    if (!rq->path || !rq->query)
        return -3;
    if (mlen == 4 && !memcmp(head, "HEAD", 4))
        rq->head_only = 1;
    else if (mlen == 4 && !memcmp(head, "POST", 4))
        rq->post = 1;
    else if (!(mlen == 3 && !memcmp(head, "GET", 3)))
        return -2;

    rq->qbuf = strdup(rq->query);
    if (!rq->qbuf)
        return -3;
    for (char *p = rq->qbuf; p;) {
        char *amp = strchr(p, '&');
        char *eq;

        if (amp)
            *amp++ = '\0';
        eq = strchr(p, '=');
        if (eq) {
            *eq++ = '\0';
            pct_decode(eq);
        }
        if (*p)
            req_param(rq, p, eq ? eq : "");
        p = amp;
    }
    req_cycle(rq);
    return 0;
}

/* The k-th element (mod the list's length) of a comma-separated list of numbers, or -1. */
static long long list_at(const char *list, unsigned long k)
{
    unsigned long n = 1;
    const char *p = list;
    long long v;
    char item[32];
    size_t len;

    for (const char *c = list; *c; c++)
        n += *c == ',';
    for (k %= n; k > 0; k--)
        p = strchr(p, ',') + 1;
    len = strcspn(p, ",");
    if (len == 0 || len >= sizeof(item))
        return -1;
    memcpy(item, p, len);
    item[len] = '\0';
    return parse_num(item, 0, 3600000, &v) ? -1 : v;
}

/* Applies cycle= and cycle_delay= for the n-th request of this URL. */
static void req_cycle(struct req *rq)
{
    uint64_t h = 1469598103934665603ULL;
    unsigned long n;
    long long v;

    if (!rq->cycle && !rq->cycle_delay)
        return;
    for (const char *c = rq->path; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    for (const char *c = rq->query; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    n = atomic_fetch_add(&cycle_count[h % CYCLE_SLOTS], 1);
    if (rq->cycle && (v = list_at(rq->cycle, n)) >= 100 && v <= 999)
        rq->status = (int)v;
    if (rq->cycle_delay && (v = list_at(rq->cycle_delay, n)) >= 0)
        rq->delay += (long)v;
}

/* Returns 1 if one of the header= parameters is named `name`. */
static int req_has_header(const struct req *rq, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; i < rq->nhdr; i++)
        if (!strncasecmp(rq->hdr[i], name, n) && rq->hdr[i][n] == ':')
            return 1;
    return 0;
}

/* The raw query with redirect=N replaced by redirect=N-1 (caller frees), or NULL. */
static char *redirect_query(const struct req *rq)
{
    struct sbuf b = {0};
    const char *p = rq->query;

    sb_printf(&b, "%s", "");
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);

        if (b.len > 0)
            sb_printf(&b, "&");
        if (n >= 9 && !memcmp(p, "redirect=", 9))
            sb_printf(&b, "redirect=%ld", rq->redirect - 1);
        else
            sb_printf(&b, "%.*s", (int)n, p);
        p += n;
        if (*p == '&')
            p++;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Writes the response to one request. Returns 0 to close gracefully, 1 to keep the connection
 * for another request, -1 to abort it. */
static int respond(struct conn *c, struct req *rq, const char *head, size_t head_len)
{
    const char *scheme = c->l->ctx ? "https" : "http";
    struct sbuf b = {0};
    char *rq_loc = NULL;
    const char *location = NULL;
    const char *body = "ok\n";
    long long blen;
    int status = rq->status, nobody, ret = -1;
    int keep = rq->keepalive && (rq->mode == MODE_NORMAL || rq->mode == MODE_HUGEHEADER);

    if (rq->location) {
        location = rq->location;
    } else if (rq->loop || rq->redirect > 0) {
        /* loop: the very same URL; redirect: the same with redirect=N-1 */
        char *q = rq->loop ? NULL : redirect_query(rq);
        const char *query = rq->loop ? rq->query : q;
        struct sbuf u = {0};

        if (query)
            sb_printf(&u, "%s://127.0.0.1:%d%s%s%s", scheme, c->l->port, rq->path,
                      *query ? "?" : "", query);
        free(q);
        if (!query || u.oom) {
            free(u.p);
            goto out;
        }
        rq_loc = u.p;
        location = rq_loc;
    }

    if (location)
        status = 302;
    if (rq->mode == MODE_CLOSE || rq->mode == MODE_STALL) {
        blen = 1000; /* only 100 bytes will follow */
    } else if (location) {
        body = "";
        blen = 0;
    } else if (rq->echo) {
        body = head;
        blen = (long long)head_len;
    } else if (rq->size >= 0) {
        body = NULL;
        blen = rq->size;
    } else {
        if (rq->body)
            body = rq->body;
        blen = (long long)strlen(body);
    }
    nobody = status < 200 || status == 204 || status == 304;

    sb_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason(status));
    if (rq->mode == MODE_HUGEHEADER) {
        sb_printf(&b, "X-Huge: ");
        if (b.oom || conn_write(c, b.p, b.len) < 0 || conn_fill(c, 'h', HUGE_HEADER) < 0)
            goto out;
        b.len = 0;
        sb_printf(&b, "\r\n");
    }
    sb_printf(&b, "Server: vigie-testsrv\r\n");
    if (!req_has_header(rq, "Content-Type"))
        sb_printf(&b, "Content-Type: text/plain\r\n");
    if (!nobody && !req_has_header(rq, "Content-Length"))
        sb_printf(&b, "Content-Length: %lld\r\n", blen);
    sb_printf(&b, "Connection: %s\r\n", keep ? "keep-alive" : "close");
    if (location)
        sb_printf(&b, "Location: %s\r\n", location);
    for (int i = 0; i < rq->nhdr; i++) {
        const char *colon = strchr(rq->hdr[i], ':');
        const char *v = colon + 1;

        while (*v == ' ' || *v == '\t')
            v++;
        sb_printf(&b, "%.*s: %s\r\n", (int)(colon - rq->hdr[i]), rq->hdr[i], v);
    }
    sb_printf(&b, "\r\n");
    if (b.oom || conn_write(c, b.p, b.len) < 0)
        goto out;

    if (rq->head_only || nobody) {
        ret = keep;
        goto out;
    }
    if (rq->mode == MODE_CLOSE) {
        ret = conn_fill(c, 'x', 100) < 0 ? -1 : 0;
        goto out;
    }
    if (rq->mode == MODE_STALL) {
        /* the rest never comes: wait for the client to give up */
        if (conn_fill(c, 'x', 100) == 0)
            conn_drain(c);
        ret = -1;
        goto out;
    }
    if (rq->drip > 0) {
        struct timespec next = mono_now();

        for (long long i = 0; i < blen; i++) {
            char ch = body ? body[i] : 'x';

            ts_add_ms(&next, rq->drip);
            sleep_until(&next);
            if (conn_write(c, &ch, 1) < 0)
                goto out;
        }
    } else if (body) {
        if (conn_write(c, body, (size_t)blen) < 0)
            goto out;
    } else if (conn_fill(c, 'x', blen) < 0) {
        goto out;
    }
    ret = keep;
out:
    free(b.p);
    free(rq_loc);
    return ret;
}

static int send_error(struct conn *c, int status, const char *extra)
{
    char msg[256];
    const char *text = reason(status);

    snprintf(msg, sizeof(msg),
             "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s"
             "Connection: close\r\n\r\n%s\n",
             status, text, strlen(text) + 1, extra, text);
    return conn_puts(c, msg);
}

/* Reads one request head into c->buf. Returns its length (including the empty line), 0 if
 * the client went away first, -1 if the head exceeds HEAD_MAX. */
static long read_head(struct conn *c)
{
    size_t scanned = 0;

    for (;;) {
        /* the head ends with an empty line: CRLF CRLF, or bare LFs (tolerated) */
        for (size_t i = scanned; i + 1 < c->len; i++) {
            if (c->buf[i] != '\n')
                continue;
            if (c->buf[i + 1] == '\n')
                return (long)(i + 2);
            if (c->buf[i + 1] == '\r' && i + 2 < c->len && c->buf[i + 2] == '\n')
                return (long)(i + 3);
        }
        scanned = c->len >= 2 ? c->len - 2 : 0;
        if (c->len >= HEAD_MAX)
            return -1;

        ssize_t r = conn_read(c, c->buf + c->len, HEAD_MAX - c->len);

        if (r <= 0)
            return 0;
        c->len += (size_t)r;
    }
}

/* Serves one request. Returns how to close, or CLOSE_NOT to go on (keepalive=1). */
static enum close_how serve_one(struct conn *c)
{
    struct req rq;
    struct timespec t0;
    char *post = NULL;
    size_t post_len = 0;
    long head_len = read_head(c);
    enum close_how how = CLOSE_ABORT;
    int r;

    if (head_len == 0)
        return CLOSE_ABORT;
    if (head_len < 0) {
        send_error(c, 400, "");
        return CLOSE_GRACEFUL;
    }
    t0 = mono_now();
    r = req_parse(&rq, c->buf, (size_t)head_len);
    if (r < 0) {
        req_fini(&rq);
        if (r == -2)
            send_error(c, 405, "Allow: GET, HEAD, POST\r\n");
        else
            send_error(c, r == -1 ? 400 : 500, "");
        return CLOSE_GRACEFUL;
    }
    if (rq.post) {
        if (webhook_read_body(c, (size_t)head_len, &post, &post_len) < 0) {
            req_fini(&rq);
            send_error(c, 400, "");
            return CLOSE_GRACEFUL;
        }
        rq.keepalive = 0;
    }
    if (rq.down) {
        char path[4200];

        snprintf(path, sizeof(path), "%s/%s", c->l->srv->dir, rq.down);
        if (access(path, F_OK) == 0)
            rq.status = 503;
    }
    if (rq.delay > 0) {
        ts_add_ms(&t0, rq.delay);
        sleep_until(&t0);
    }
    if (post && rq.mode == MODE_NORMAL)
        webhook_record(c, rq.path, rq.status, (size_t)head_len, post, post_len);
    free(post);
    switch (rq.mode) {
    case MODE_SILENCE:
        conn_drain(c);
        how = CLOSE_ABORT;
        break;
    case MODE_RESET:
        how = CLOSE_RESET;
        break;
    case MODE_GARBAGE:
        how = conn_puts(c, "THIS IS NOT HTTP\r\n\r\n") < 0 ? CLOSE_ABORT : CLOSE_GRACEFUL;
        break;
    case MODE_NORMAL:
    case MODE_CLOSE:
    case MODE_STALL:
    case MODE_HUGEHEADER:
        r = respond(c, &rq, c->buf, (size_t)head_len);
        how = r > 0 ? CLOSE_NOT : r == 0 ? CLOSE_GRACEFUL : CLOSE_ABORT;
        break;
    }
    req_fini(&rq);
    if (how == CLOSE_NOT) {
        /* keep-alive: what followed this head is the start of the next request */
        c->len -= (size_t)head_len;
        memmove(c->buf, c->buf + head_len, c->len);
    }
    return how;
}

enum close_how http_serve(struct conn *c)
{
    enum close_how how;

    while ((how = serve_one(c)) == CLOSE_NOT)
        ;
    return how;
}
