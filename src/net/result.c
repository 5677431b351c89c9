#include "net/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const outcome_names[OUTCOME__COUNT] = {
    [OUTCOME_OK] = "ok",
    [OUTCOME_DNS] = "dns",
    [OUTCOME_CONNECT] = "connect",
    [OUTCOME_TLS] = "tls",
    [OUTCOME_TIMEOUT] = "timeout",
    [OUTCOME_HTTP_STATUS] = "http_status",
    [OUTCOME_CONTENT] = "content",
    [OUTCOME_TOO_LARGE] = "too_large",
    [OUTCOME_REDIRECT_LOOP] = "redirect_loop",
    [OUTCOME_PROTOCOL] = "protocol",
    [OUTCOME_INTERNAL] = "internal",
};

const char *outcome_str(enum outcome o)
{
    return (unsigned)o < OUTCOME__COUNT ? outcome_names[o] : "?";
}

const char *verdict_str(enum verdict v)
{
    switch (v) {
    case VERDICT_OK:
        return "ok";
    case VERDICT_DEGRADED:
        return "degraded";
    case VERDICT_DOWN:
        return "down";
    }
    return "?";
}

void result_internal(struct result *res, const char *fmt, ...)
{
    va_list ap;

    memset(res, 0, sizeof(*res));
    res->dns_us = res->connect_us = res->tls_us = res->pretransfer_us = -1;
    res->ttfb_us = res->response_us = -1;
    res->outcome = OUTCOME_INTERNAL;
    res->verdict = VERDICT_DOWN;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}
