/*
 * conn — one client connection, served by its own thread with blocking I/O, plain or TLS.
 *
 * conn_main handles the listener's kind: stall drains what the client sends and never answers;
 * a TLS listener does the handshake first; then SMTP (smtp.c) or HTTP (http.c) runs until it says
 * how the connection ends, and conn_free ends it that way: graceful (close_notify, FIN, then
 * reading until the client's FIN, for at most LINGER_MS), abort, or reset (SO_LINGER 0).
 */
#include "testsrv_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CHUNK (16 * 1024) /* body streaming unit */
#define LINGER_MS 2000    /* how long a closing connection waits for the client's FIN */

ssize_t conn_read(struct conn *c, void *p, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);

        if (r > 0)
            return r;
        r = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        return r == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);

        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -1;
    }
}

int conn_write(struct conn *c, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        size_t k = n > CHUNK ? CHUNK : n;
        ssize_t r;

        if (c->ssl) {
            r = SSL_write(c->ssl, s, (int)k);
            if (r <= 0) {
                ERR_clear_error();
                return -1;
            }
        } else {
            r = send(c->fd, s, k, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
        }
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

int conn_puts(struct conn *c, const char *s)
{
    return conn_write(c, s, strlen(s));
}

int conn_fill(struct conn *c, int ch, long long n)
{
    char chunk[CHUNK];

    memset(chunk, ch, sizeof(chunk));
    while (n > 0) {
        size_t k = n > CHUNK ? CHUNK : (size_t)n;

        if (conn_write(c, chunk, k) < 0)
            return -1;
        n -= (long long)k;
    }
    return 0;
}

void conn_drain(struct conn *c)
{
    char tmp[4096];

    while (conn_read(c, tmp, sizeof(tmp)) > 0)
        ;
}

/* Ends the connection and frees it. The registry slot is cleared before the fd is closed. */
static void conn_free(struct conn *c, enum close_how how)
{
    struct server *srv = c->l->srv;
    int fd = c->fd;

    if (how == CLOSE_RESET) {
        struct linger lg = {1, 0};

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else if (how == CLOSE_GRACEFUL) {
        /* Half-close, then read until the client's FIN: closing with unread input would send an
         * RST that can destroy the response before the client has read it. */
        struct timespec t0 = mono_now();
        struct timeval tv = {0, 200 * 1000};
        char tmp[4096];

        if (c->ssl && SSL_shutdown(c->ssl) < 0)
            ERR_clear_error();
        shutdown(fd, SHUT_WR);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while (ts_diff_ms(mono_now(), t0) < LINGER_MS) {
            ssize_t r = recv(fd, tmp, sizeof(tmp), 0);

            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
                break;
        }
    }
    SSL_free(c->ssl);
    free(c->buf);
    free(c);
    registry_del(srv, fd);
    close(fd);
}

void *conn_main(void *arg)
{
    struct conn *c = arg;
    enum close_how how = CLOSE_ABORT;
    sigset_t set;

    /* signals are for the main thread */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (c->l->stall) {
        conn_drain(c);
        goto out;
    }
    if (c->l->ctx) {
        c->ssl = SSL_new(c->l->ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_accept(c->ssl) != 1) {
            ERR_clear_error();
            goto out;
        }
    }
    c->buf = malloc(HEAD_MAX);
    if (!c->buf)
        goto out;
    if (c->l->smtp) {
        how = smtp_serve(c);
        goto out;
    }
    how = http_serve(c);
out:
    conn_free(c, how);
    return NULL;
}
