/* smtp — the SMTP back-end: the mail rendered by render_mail, sent through httpc (smtp:// with
 * STARTTLS, required unless starttls_optional, or smtps://) to the receiver's recipients. Its
 * completion is webhook_sent: a transfer that completes is a mail the server accepted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sbuf.h"
#include "net/httpc.h"
#include "notify/notify_int.h"

int smtp_start(struct notify *n, struct attempt *a)
{
    const struct receiver *rc = a->rs->rc;
    char **rcpt = calloc(rc->nto, sizeof(*rcpt));
    char from[512];
    struct sbuf b = {0};
    int err = -ENOMEM;

    if (!rcpt)
        return -ENOMEM;
    for (size_t i = 0; i < rc->nto; i++) {
        size_t len = strlen(rc->to[i]) + 3;

        rcpt[i] = malloc(len);
        if (!rcpt[i])
            goto out;
        snprintf(rcpt[i], len, "<%s>", rc->to[i]);
    }
    snprintf(from, sizeof(from), "<%s>", rc->from);
    render_mail(&b, a->it->j, rc);
    if (b.oom)
        goto out;
    a->payload = b.p;
    b.p = NULL;
    struct httpc_send req = {
        .url = rc->url,
        .body = a->payload,
        .len = strlen(a->payload),
        .timeout_ms = rc->timeout_ms,
        .tls_verify = rc->tls_verify,
        .ca_file = rc->ca_file,
        .mail_from = from,
        .rcpt = (const char *const *)rcpt,
        .nrcpt = rc->nto,
        .username = rc->username,
        .password = rc->username ? rc->secret : NULL,
        .starttls_optional = rc->starttls_optional,
    };
    err = httpc_send(n->h, &req, webhook_sent, a);
out:
    for (size_t i = 0; i < rc->nto; i++)
        free(rcpt[i]);
    free(rcpt);
    free(b.p);
    return err;
}
