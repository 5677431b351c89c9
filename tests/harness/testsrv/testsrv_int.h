/*
 * testsrv_int.h — what the files of the loopback test server share (private to
 * tests/harness/testsrv/): the server and its listeners, the connection a thread serves, and the
 * entry points of each file.
 *
 *   main.c     the command line, the listeners, the accept loop, shutdown, the records
 *   conn.c     a connection: its thread, blocking I/O (plain or TLS), how it ends
 *   http.c     HTTP requests and the behaviours their query asks for
 *   webhook.c  the webhook sink: POST bodies, recorded to DIR/sink-N.req
 *   smtp.c     the SMTP sink: a session, recorded to DIR/mail-N.eml
 *   tls.c      the throw-away CA and the server certificates (OpenSSL)
 *   util.c     clocks, numbers, growable strings, fatal errors
 *
 * Threads: the main thread owns the listeners; each connection is served by its own detached
 * thread, which only reads the server, except the registry (main.c) and the record counter.
 */
#ifndef VIGIE_TESTSRV_INT_H
#define VIGIE_TESTSRV_INT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define HEAD_MAX (64 * 1024) /* request head cap (and the SMTP line buffer) */

enum listener_kind {
    L_HTTP,
    L_HTTPS,
    L_EXPIRED,
    L_WRONGHOST,
    L_SOON,
    L_SELFSIGNED,
    L_STALL,
    L_SMTP,
    L_SMTPS,
    L_SMTPPLAIN,
    L_COUNT
};

struct server;

struct listener {
    int fd;
    int port;
    SSL_CTX *ctx;      /* NULL: plain TCP */
    int stall;         /* never answer */
    int smtp;          /* speak SMTP */
    SSL_CTX *starttls; /* SMTP: offered with STARTTLS (borrowed) */
    struct server *srv;
};

/* The root object. Connection threads only read it, except the registry under `lock`. */
struct server {
    struct listener l[L_COUNT];
    int refused_fd; /* bound, never listening: connections to it are refused */
    int refused_port;
    const char *dir;     /* --dir: recorded mails and webhook requests go there */
    atomic_uint records; /* numbering of the recorded files */
    pthread_attr_t attr;
    /* Registry of the sockets owned by connection threads, so that shutdown can wake them. A
     * thread clears its slot before closing its fd, so a set slot is always an open socket. */
    pthread_mutex_t lock;
    int nconns;
    unsigned char *active; /* active[fd] != 0 while a connection thread owns fd */
    size_t nactive;
};

/* One client connection, owned by its thread. */
struct conn {
    int fd;
    SSL *ssl; /* NULL on plain listeners */
    struct listener *l;
    char *buf;  /* HEAD_MAX bytes: request head(s) */
    size_t len; /* bytes in buf */
};

/* How a connection ends (CLOSE_NOT: it does not, the next request follows). */
enum close_how {
    CLOSE_NOT,
    CLOSE_GRACEFUL, /* close_notify, FIN, then wait a little for the client's FIN */
    CLOSE_ABORT,    /* just close (client gone, or protocol error on its side) */
    CLOSE_RESET,    /* SO_LINGER 0: the peer sees a TCP RST */
};

/* ---- main.c --------------------------------------------------------------------------------- */

/* Forgets fd in the registry (a connection thread is about to close it). */
void registry_del(struct server *srv, int fd);

/* Writes DIR/<prefix>-N<ext> (N from 1) from two pieces, through a temporary name so a reader
 * never sees a partial file. 0 or -1. Thread-safe. */
int server_record(struct server *srv, const char *prefix, const char *ext, const char *a,
                  size_t alen, const char *b, size_t blen);

/* ---- conn.c --------------------------------------------------------------------------------- */

/* The thread of one accepted connection (arg: a calloc'ed struct conn with fd and l set, its fd
 * in the registry): serves it by its listener's kind, then closes and frees it. */
void *conn_main(void *arg);

/* Reads up to n bytes: > 0 bytes read, 0 end-of-file, -1 error. */
ssize_t conn_read(struct conn *c, void *p, size_t n);

/* Writes all n bytes: 0 or -1. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_puts(struct conn *c, const char *s);

/* Writes n copies of ch, in chunks. */
int conn_fill(struct conn *c, int ch, long long n);

/* Reads and discards until the client closes (or an error); never writes. */
void conn_drain(struct conn *c);

/* ---- http.c, smtp.c: a session on a connection, and how it ends -------------------------- */

enum close_how http_serve(struct conn *c);
enum close_how smtp_serve(struct conn *c);

/* ---- webhook.c ------------------------------------------------------------------------------ */

/* Reads a POST body (what followed the head in c->buf, then the rest, by Content-Length).
 * Caller frees *body. 0, or -1 (no or bad Content-Length, client gone, out of memory). */
int webhook_read_body(struct conn *c, size_t head_len, char **body, size_t *blen);

/* Records the request (the head in c->buf, then body) to DIR/sink-N.req when its answer is 2xx
 * and its path starts with /sink. */
void webhook_record(struct conn *c, const char *path, int status, size_t head_len, const char *body,
                    size_t blen);

/* ---- tls.c ---------------------------------------------------------------------------------- */

/* A new EC P-256 key. Caller frees. */
EVP_PKEY *tls_key_new(void);

/* A new certificate for `key`, valid from now + nb_days to now + na_days, signed by
 * issuer/issuer_key (self-signed CA when issuer is NULL). san NULL: a CA. Caller frees. */
X509 *tls_cert_new(const char *cn, const char *san, long nb_days, long na_days, EVP_PKEY *key,
                   X509 *issuer, EVP_PKEY *issuer_key);

/* A server context presenting a fresh leaf certificate signed by the CA (self-signed when ca is
 * NULL). Caller frees. */
SSL_CTX *tls_ctx_new(X509 *ca, EVP_PKEY *ca_key, const char *cn, const char *san, long nb_days,
                     long na_days);

/* Writes the CA certificate to DIR/ca.pem (exits on failure). */
void tls_write_ca(const char *dir, X509 *ca);

/* ---- util.c --------------------------------------------------------------------------------- */

/* Prints what failed (and OpenSSL's error queue) and exits 1. */
void die(const char *what);

struct timespec mono_now(void);
void ts_add_ms(struct timespec *ts, long ms);
long ts_diff_ms(struct timespec a, struct timespec b);

/* Sleeps until the absolute CLOCK_MONOTONIC time `when`: precise, immune to signals and drift. */
void sleep_until(const struct timespec *when);
void sleep_ms(long ms);

/* strtoll with full-string and range checks; 0 or -1. */
int parse_num(const char *s, long long min, long long max, long long *out);

/* A growable string for response heads. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

/* Appends; on failure sets b->oom, and later calls do nothing. */
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
