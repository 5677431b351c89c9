/* check — one check of one probe: request from the probe, verdict from its expectations. */
#include "probe/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

struct check {
    const struct probe *p;
    check_done_cb cb;
    void *arg;
};

/* Like memmem(3), which is not POSIX: bodies may hold NUL bytes. */
static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++) {
        const char *p = memchr(hay + i, needle[0], len - n - i + 1);

        if (!p)
            return false;
        i = (size_t)(p - hay);
        if (memcmp(p, needle, n) == 0)
            return true;
    }
    return false;
}

void check_judge(const struct probe *p, struct result *res, const char *body, size_t len,
                 int64_t now)
{
    char set[128];

    if (res->outcome == OUTCOME_OK) {
        if (!statusset_has(&p->status, res->status)) {
            res->outcome = OUTCOME_HTTP_STATUS;
            snprintf(res->msg, sizeof(res->msg), "status %ld not in %s", res->status,
                     statusset_format(&p->status, set, sizeof(set)));
        } else if (p->body && !contains(body ? body : "", body ? len : 0, p->body)) {
            res->outcome = OUTCOME_CONTENT;
            snprintf(res->msg, sizeof(res->msg), "body does not contain \"%.100s\"", p->body);
        } else if (p->body_regex && regexec(&p->body_re, body ? body : "", 0, NULL, 0) != 0) {
            res->outcome = OUTCOME_CONTENT;
            snprintf(res->msg, sizeof(res->msg), "body does not match /%.100s/", p->body_regex);
        }
    }
    if (res->cert_expiry) {
        int64_t left = res->cert_expiry - now;

        /* Whole days left, rounded down; an expired certificate has a negative count. */
        res->cert_days = (int)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
        res->cert_expiring = p->tls_min_days > 0 && res->cert_days < p->tls_min_days;
    }
    res->slow = res->total_us >= (int64_t)p->slow_ms * 1000;
    if (res->outcome != OUTCOME_OK) {
        res->verdict = VERDICT_DOWN;
    } else if (res->slow) {
        res->verdict = VERDICT_DEGRADED;
        snprintf(res->msg, sizeof(res->msg), "slow: %.0f ms >= %llu ms", res->total_us / 1000.0,
                 (unsigned long long)p->slow_ms);
    } else if (res->cert_expiring) {
        res->verdict = VERDICT_DEGRADED;
        snprintf(res->msg, sizeof(res->msg), "certificate expires in %d days (< %ld)",
                 res->cert_days, p->tls_min_days);
    } else {
        res->verdict = VERDICT_OK;
    }
}

static void on_done(void *arg, struct result *res, const char *body, size_t len)
{
    struct check *c = arg;

    if (res->outcome == OUTCOME_INTERNAL)
        log_debug("probe %s: %s", c->p->id, res->msg);
    check_judge(c->p, res, body, len, (int64_t)time(NULL));
    c->cb(c->arg, c->p, res);
    free(c);
}

int check_start(struct httpc *h, const struct config *cfg, const struct probe *p, check_done_cb cb,
                void *arg)
{
    struct check *c = malloc(sizeof(*c));
    struct httpc_req r = {
        .url = p->url,
        .method = p->method,
        .headers = p->headers,
        .nheaders = p->nheaders,
        .user_agent = cfg->user_agent,
        .timeout_ms = p->timeout_ms,
        .connect_timeout_ms = p->connect_timeout_ms,
        .follow_redirects = p->follow_redirects,
        .max_redirects = p->max_redirects,
        .ip = p->ip,
        .http = p->http,
        .reuse = p->reuse,
        .tls_verify = p->tls_verify,
        .ca_file = p->ca_file,
        .max_bytes = p->max_bytes,
        .keep_body = p->body || p->body_regex,
    };
    int err;

    if (!c)
        return -ENOMEM;
    c->p = p;
    c->cb = cb;
    c->arg = arg;
    err = httpc_submit(h, &r, on_done, c);
    if (err)
        free(c);
    return err;
}
