/*
 * webhook — the webhook sink, on the HTTP listeners: http.c parses the request, reads its body
 * here and answers it.
 *
 * A POST (body by Content-Length, up to 1 MiB) is answered like a GET, with the knobs of http.c;
 * when the answer is 2xx and the path starts with /sink, the request (head and body) is written
 * to DIR/sink-N.req (N from 1, counted with the mails of smtp.c, written to a temporary name then
 * renamed). down=NAME answers 503 while DIR/NAME exists (a receiver that is down, then back; or,
 * on a GET, a procedure in an outage the test switches on and off): http.c applies it.
 */
#include "testsrv_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POST_MAX (1024 * 1024)

/* The value of Content-Length in a request head, or -1. */
static long long head_content_length(const char *head, size_t len)
{
    static const char name[] = "\ncontent-length:";
    long long v;

    for (size_t i = 0; i + sizeof(name) - 1 < len; i++) {
        if (strncasecmp(head + i, name, sizeof(name) - 1) == 0) {
            char num[32];
            size_t k = 0;
            const char *p = head + i + sizeof(name) - 1;

            while (*p == ' ' || *p == '\t')
                p++;
            while (k + 1 < sizeof(num) && *p >= '0' && *p <= '9')
                num[k++] = *p++;
            num[k] = '\0';
            return parse_num(num, 0, POST_MAX, &v) ? -1 : v;
        }
    }
    return -1;
}

int webhook_read_body(struct conn *c, size_t head_len, char **body, size_t *blen)
{
    long long want = head_content_length(c->buf, head_len);
    size_t have = c->len - head_len;
    char *b;

    *body = NULL;
    *blen = 0;
    if (want < 0)
        return -1;
    b = malloc((size_t)want + 1);
    if (!b)
        return -1;
    if (have > (size_t)want)
        have = (size_t)want;
    memcpy(b, c->buf + head_len, have);
    while (have < (size_t)want) {
        ssize_t r = conn_read(c, b + have, (size_t)want - have);

        if (r <= 0) {
            free(b);
            return -1;
        }
        have += (size_t)r;
    }
    b[have] = '\0';
    c->len = head_len; /* the body is consumed */
    *body = b;
    *blen = have;
    return 0;
}

void webhook_record(struct conn *c, const char *path, int status, size_t head_len, const char *body,
                    size_t blen)
{
    if (status >= 200 && status <= 299 && strncmp(path, "/sink", 5) == 0)
        server_record(c->l->srv, "sink", ".req", c->buf, head_len, body, blen);
}
