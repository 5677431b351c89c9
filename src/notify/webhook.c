/* webhook — the deliveries over HTTP: webhooks (vigie's JSON, Slack, Mattermost) and
 * Alertmanager's v2 API, through httpc; and webhook_sent, the completion of every transfer httpc
 * makes for notify (SMTP's too).
 *
 * A 2xx status is acceptance. Any other status is a failure, retried; a 4xx but 408 and 429 is
 * also a rejection of this notification (it moves behind the others). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpc.h"
#include "net/result.h"
#include "notify/notify_int.h"

void webhook_sent(void *arg, struct result *res, const char *body, size_t len)
{
    struct attempt *a = arg;
    struct notify *n = a->n;
    struct rstate *rs = a->rs;
    bool smtp = rs->rc && rs->rc->type == RECEIVER_SMTP;
    bool ok = false, rejected = false;
    char why[ERR_MAX], key[64];

    rs->busy = NULL;
    n->busy--;
    if (res->aborted && n->closing) {
        notify_attempt_free(a);
        notify_maybe_closed(n);
        return;
    }
    if (res->outcome != OUTCOME_OK) {
        snprintf(why, sizeof(why), "%s: %.200s", outcome_str(res->outcome), res->msg);
        snprintf(key, sizeof(key), "transport %s", outcome_str(res->outcome));
    } else if (smtp || (res->status >= 200 && res->status <= 299)) {
        ok = true;
    } else {
        /* the first line of the reply says why, with no more than 120 bytes of it */
        size_t k = body ? strcspn(body, "\r\n") : 0;

        if (k > 120)
            k = 120;
        snprintf(why, sizeof(why), "HTTP status %ld%s%.*s", res->status, k ? ": " : "", (int)k,
                 body ? body : "");
        snprintf(key, sizeof(key), "http %ld", res->status);
        rejected =
            res->status >= 400 && res->status <= 499 && res->status != 408 && res->status != 429;
    }
    (void)len;
    notify_attempt_end(n, rs, a->it, ok, rejected, ok ? "" : key, ok ? "" : why);
    notify_attempt_free(a);
    notify_pump(n);
}

int webhook_start(struct notify *n, struct attempt *a)
{
    const struct receiver *rc = a->rs->rc;
    const json_t *j = a->it->j;
    char ct_name[] = "Content-Type", ct_value[] = "application/json";
    char auth_name[] = "Authorization";
    struct header hdrs[66];
    size_t nh = 0;
    char *auth = NULL, *url = NULL;
    const char *target = rc->url;
    int err;

    if (rc->type == RECEIVER_ALERTMANAGER) {
        size_t len = strlen(rc->url);

        while (len > 0 && rc->url[len - 1] == '/')
            len--;
        url = malloc(len + sizeof("/api/v2/alerts"));
        if (!url)
            return -ENOMEM;
        memcpy(url, rc->url, len);
        memcpy(url + len, "/api/v2/alerts", sizeof("/api/v2/alerts"));
        target = url;
    }
    a->payload = render_body(j, rc);
    if (!a->payload) {
        free(url);
        return -ENOMEM;
    }
    hdrs[nh++] = (struct header){.name = ct_name, .value = ct_value};
    for (size_t i = 0; i < rc->nheaders && nh < 65; i++)
        hdrs[nh++] = rc->headers[i];
    if (rc->secret) {
        size_t len = strlen(rc->secret) + sizeof("Bearer ");

        auth = malloc(len);
        if (!auth) {
            free(url);
            return -ENOMEM;
        }
        snprintf(auth, len, "Bearer %s", rc->secret);
        hdrs[nh++] = (struct header){.name = auth_name, .value = auth};
    }
    struct httpc_send req = {
        .url = target,
        .headers = hdrs,
        .nheaders = nh,
        .user_agent = n->cfg ? n->cfg->user_agent : "vigie",
        .body = a->payload,
        .len = strlen(a->payload),
        .timeout_ms = rc->timeout_ms,
        .tls_verify = rc->tls_verify,
        .ca_file = rc->ca_file,
    };
    err = httpc_send(n->h, &req, webhook_sent, a);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    return err;
}
