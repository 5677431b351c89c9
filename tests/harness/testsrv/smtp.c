/*
 * smtp — the SMTP sink of the smtp, smtps and smtpplain listeners.
 *
 * SMTP: EHLO/HELO, STARTTLS, AUTH PLAIN (any credentials accepted), MAIL, RCPT, DATA, RSET,
 * NOOP, QUIT. Every message accepted is written to DIR/mail-N.eml (N from 1, written to a
 * temporary name then renamed): envelope lines first (X-Testsrv-From:, X-Testsrv-To: per
 * recipient, X-Testsrv-Tls: yes|no, X-Testsrv-Auth: user:password when AUTH was used), then
 * the message as received, dot-unstuffed.
 *
 * Lines come through c->buf (HEAD_MAX bytes); a line longer than SMTP_LINE ends the session, and
 * a message's lines beyond SMTP_MAX bytes are dropped. After STARTTLS what was buffered before
 * the handshake is discarded, and the transaction and the credentials start again.
 */
#include "testsrv_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTP_LINE 4096
#define SMTP_MAX (4 * 1024 * 1024)

/* One line (without CRLF) from the connection into line (cap bytes). 1, 0 at end, -1 too long. */
static int smtp_getline(struct conn *c, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);

        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            size_t k = n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n;

            if (k >= cap)
                return -1;
            memcpy(line, c->buf, k);
            line[k] = '\0';
            c->len -= n + 1;
            memmove(c->buf, nl + 1, c->len);
            return 1;
        }
        if (c->len >= HEAD_MAX)
            return -1;
        ssize_t r = conn_read(c, c->buf + c->len, HEAD_MAX - c->len);

        if (r <= 0)
            return 0;
        c->len += (size_t)r;
    }
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Decodes base64 into out (cap bytes); returns the length, or -1. */
static long b64_decode(const char *in, unsigned char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;

    for (; *in && *in != '='; in++) {
        int v = b64val((unsigned char)*in);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

/* AUTH PLAIN's "authzid\0authcid\0password" as "authcid:password". */
static void smtp_auth(const char *b64, char *auth, size_t cap)
{
    unsigned char raw[1024];
    long n = b64_decode(b64, raw, sizeof(raw) - 1);
    const char *user, *pass;

    auth[0] = '\0';
    if (n < 0)
        return;
    raw[n] = '\0';
    user = memchr(raw, '\0', (size_t)n);
    if (!user)
        return;
    user++;
    pass = memchr(user, '\0', (size_t)n - (size_t)(user - (const char *)raw));
    if (!pass)
        return;
    pass++;
    snprintf(auth, cap, "%s:%.*s", user, (int)((const char *)raw + n - pass), pass);
}

static int smtp_reply(struct conn *c, const char *s)
{
    return conn_puts(c, s);
}

/* Serves one SMTP session. */
enum close_how smtp_serve(struct conn *c)
{
    char *line = malloc(SMTP_LINE);
    struct sbuf env = {0}, data = {0};
    char auth[1100] = "";
    int r, have_from = 0, nrcpt = 0;
    enum close_how how = CLOSE_ABORT;

    if (!line || smtp_reply(c, "220 vigie-testsrv ESMTP\r\n") < 0)
        goto out;
    while ((r = smtp_getline(c, line, SMTP_LINE)) > 0) {
        if (!strncasecmp(line, "EHLO", 4)) {
            struct sbuf b = {0};

            sb_printf(&b, "250-vigie-testsrv\r\n%s250-AUTH PLAIN\r\n250 8BITMIME\r\n",
                      !c->ssl && c->l->starttls ? "250-STARTTLS\r\n" : "");
            r = b.oom ? -1 : smtp_reply(c, b.p);
            free(b.p);
            if (r < 0)
                goto out;
        } else if (!strncasecmp(line, "HELO", 4)) {
            if (smtp_reply(c, "250 vigie-testsrv\r\n") < 0)
                goto out;
        } else if (!strcasecmp(line, "STARTTLS") && !c->ssl && c->l->starttls) {
            if (smtp_reply(c, "220 2.0.0 Ready to start TLS\r\n") < 0)
                goto out;
            c->len = 0; /* nothing sent before the handshake counts */
            c->ssl = SSL_new(c->l->starttls);
            if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_accept(c->ssl) != 1) {
                ERR_clear_error();
                goto out;
            }
            have_from = nrcpt = 0;
            auth[0] = '\0';
        } else if (!strncasecmp(line, "AUTH PLAIN", 10)) {
            const char *arg = line + 10;

            while (*arg == ' ')
                arg++;
            if (!*arg) {
                if (smtp_reply(c, "334 \r\n") < 0 || smtp_getline(c, line, SMTP_LINE) <= 0)
                    goto out;
                arg = line;
            }
            smtp_auth(arg, auth, sizeof(auth));
            if (smtp_reply(c, auth[0] ? "235 2.7.0 Authentication successful\r\n"
                                      : "501 5.5.2 Cannot decode\r\n") < 0)
                goto out;
        } else if (!strncasecmp(line, "MAIL FROM:", 10)) {
            free(env.p);
            memset(&env, 0, sizeof(env));
            sb_printf(&env, "X-Testsrv-From: %s\r\n", line + 10);
            have_from = 1;
            nrcpt = 0;
            if (smtp_reply(c, "250 2.1.0 OK\r\n") < 0)
                goto out;
        } else if (!strncasecmp(line, "RCPT TO:", 8)) {
            if (!have_from) {
                if (smtp_reply(c, "503 5.5.1 MAIL first\r\n") < 0)
                    goto out;
                continue;
            }
            sb_printf(&env, "X-Testsrv-To: %s\r\n", line + 8);
            nrcpt++;
            if (smtp_reply(c, "250 2.1.5 OK\r\n") < 0)
                goto out;
        } else if (!strcasecmp(line, "DATA")) {
            if (!nrcpt) {
                if (smtp_reply(c, "503 5.5.1 RCPT first\r\n") < 0)
                    goto out;
                continue;
            }
            if (smtp_reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n") < 0)
                goto out;
            free(data.p);
            memset(&data, 0, sizeof(data));
            sb_printf(&data, "%s", "");
            while ((r = smtp_getline(c, line, SMTP_LINE)) > 0 && strcmp(line, ".") != 0) {
                if (data.len < SMTP_MAX)
                    sb_printf(&data, "%s\r\n", line[0] == '.' ? line + 1 : line);
            }
            if (r <= 0)
                goto out;
            sb_printf(&env, "X-Testsrv-Tls: %s\r\n", c->ssl ? "yes" : "no");
            if (auth[0])
                sb_printf(&env, "X-Testsrv-Auth: %s\r\n", auth);
            if (env.oom || data.oom ||
                server_record(c->l->srv, "mail", ".eml", env.p, env.len, data.p, data.len) < 0) {
                if (smtp_reply(c, "451 4.3.0 Cannot store\r\n") < 0)
                    goto out;
            } else if (smtp_reply(c, "250 2.0.0 OK queued\r\n") < 0) {
                goto out;
            }
            have_from = nrcpt = 0;
        } else if (!strcasecmp(line, "RSET")) {
            have_from = nrcpt = 0;
            if (smtp_reply(c, "250 2.0.0 OK\r\n") < 0)
                goto out;
        } else if (!strcasecmp(line, "NOOP")) {
            if (smtp_reply(c, "250 2.0.0 OK\r\n") < 0)
                goto out;
        } else if (!strcasecmp(line, "QUIT")) {
            smtp_reply(c, "221 2.0.0 Bye\r\n");
            how = CLOSE_GRACEFUL;
            goto out;
        } else if (smtp_reply(c, "502 5.5.2 Command not recognized\r\n") < 0) {
            goto out;
        }
    }
out:
    free(line);
    free(env.p);
    free(data.p);
    return how;
}
