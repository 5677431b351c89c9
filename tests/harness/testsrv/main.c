/*
 * testsrv — a loopback HTTP/HTTPS/SMTP server for the test suite (and the benches).
 *
 * Usage: testsrv --dir DIR [--http-port P]
 *
 * At start-up it generates a throw-away CA and the server certificates (EC P-256, OpenSSL 3 API),
 * writes the CA certificate to DIR/ca.pem (use it as the client's CAfile), binds these listeners
 * on 127.0.0.1, each on an ephemeral port (plain HTTP on P when --http-port is given: a receiver
 * the tests stop and start again at the same address), and prints exactly one line on stdout:
 *
 *     http=P https=P expired=P wronghost=P soon=P stall=P refused=P smtp=P smtps=P smtpplain=P
 *     selfsigned=P
 *
 *   http       plain HTTP
 *   https      TLS, certificate valid for IP:127.0.0.1 and DNS:localhost, signed by the test CA
 *   expired    TLS, same names, expired (notBefore 30 days ago, notAfter 1 day ago)
 *   wronghost  TLS, valid dates, but subjectAltName DNS:wrong.example only
 *   soon       TLS, valid names, expires in 5 days
 *   selfsigned TLS, valid names and dates, but a self-signed certificate (no CA signed it)
 *   stall      accepts TCP connections and never answers (a TLS handshake stalls there). The
 *              server drains and discards what the client sends, only so it notices when the
 *              client goes away.
 *   refused    a port bound but never listened on: connecting to it is refused (the socket is
 *              kept, unlike a closed one, so no other socket can take the port meanwhile)
 *   smtp       an SMTP receiver (plain, offers STARTTLS with the https certificate)
 *   smtps      the same behind implicit TLS
 *   smtpplain  the same, plain, without STARTTLS (a server, or a downgrading middlebox)
 *
 * TLS listeners speak HTTP/1.1 only (no ALPN) and disable session resumption, so every handshake
 * is a full one and the client always sees the certificate.
 *
 * What the listeners speak is described where it is served: HTTP requests and the behaviours
 * their query asks for (delays, statuses, redirects, silence, early close, drip, huge bodies...)
 * in http.c, the webhook sink in webhook.c, the SMTP sink in smtp.c; the certificates are made in
 * tls.c. testsrv_int.h lists the files.
 *
 * It serves until SIGTERM/SIGINT or until its stdin reaches end-of-file (so it dies with the
 * process that started it), then exits 0.
 *
 * Design: the main thread (this file) polls the listeners, stdin and a self-pipe for signals and
 * accepts; each connection is served by its own detached thread (256 KiB stack, conn.c) doing
 * blocking I/O through `struct conn`, so a delayed or silent request costs a sleeping thread and
 * nothing else. 1,500 simultaneous connections are fine: RLIMIT_NOFILE is raised to its hard
 * limit.
 */
#include "testsrv_int.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024) /* connection threads */
#define BACKLOG 4096
#define STOP_WAIT_MS 500 /* how long shutdown waits for connection threads */

/* Written to by the signal handler, read by the main poll loop. */
static int sig_pipe[2] = {-1, -1};

/* ---- the connection registry -------------------------------------------------------------- */

static void registry_add(struct server *srv, int fd)
{
    pthread_mutex_lock(&srv->lock);
    srv->nconns++;
    if ((size_t)fd < srv->nactive)
        srv->active[fd] = 1;
    pthread_mutex_unlock(&srv->lock);
}

void registry_del(struct server *srv, int fd)
{
    pthread_mutex_lock(&srv->lock);
    srv->nconns--;
    if ((size_t)fd < srv->nactive)
        srv->active[fd] = 0;
    pthread_mutex_unlock(&srv->lock);
}

/* Wakes every connection thread blocked on its socket. */
static void registry_shutdown_all(struct server *srv)
{
    pthread_mutex_lock(&srv->lock);
    for (size_t fd = 0; fd < srv->nactive; fd++)
        if (srv->active[fd])
            shutdown((int)fd, SHUT_RDWR);
    pthread_mutex_unlock(&srv->lock);
}

static int registry_count(struct server *srv)
{
    int n;

    pthread_mutex_lock(&srv->lock);
    n = srv->nconns;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

/* ---- records (webhook sink, SMTP) ---------------------------------------------------------- */

int server_record(struct server *srv, const char *prefix, const char *ext, const char *a,
                  size_t alen, const char *b, size_t blen)
{
    unsigned n = atomic_fetch_add(&srv->records, 1) + 1;
    char tmp[4200], path[4200];
    FILE *f;
    int ok;

    snprintf(tmp, sizeof(tmp), "%s/.%s-%u.tmp", srv->dir, prefix, n);
    snprintf(path, sizeof(path), "%s/%s-%u%s", srv->dir, prefix, n, ext);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    ok = fwrite(a, 1, alen, f) == alen && fwrite(b, 1, blen, f) == blen;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

/* ---- listeners and the main loop ------------------------------------------------------------ */

/* A TCP socket bound to 127.0.0.1 on port *port (0: an ephemeral one); its port in *port. */
static int bind_loopback(int *port)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        die("socket failed");
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)*port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
        die("cannot bind 127.0.0.1");
    *port = ntohs(sa.sin_port);
    return fd;
}

static void listener_start(struct server *srv, enum listener_kind k, SSL_CTX *ctx)
{
    struct listener *l = &srv->l[k];

    l->ctx = ctx;
    l->stall = k == L_STALL;
    l->smtp = k == L_SMTP || k == L_SMTPS || k == L_SMTPPLAIN;
    l->srv = srv;
    l->fd = bind_loopback(&l->port); /* l->port: 0, or the port asked for */
    if (listen(l->fd, BACKLOG) < 0)
        die("listen failed");
    fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
}

/* Accepts what is pending on l and starts a thread per connection. */
static void listener_accept(struct listener *l)
{
    struct server *srv = l->srv;

    for (int i = 0; i < 256; i++) {
        int one = 1;
        int fd = accept(l->fd, NULL, NULL);
        struct conn *c;
        pthread_t tid;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "testsrv: accept: %s\n", strerror(errno));
                sleep_ms(10); /* let connections finish rather than spin */
            }
            return;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->l = l;
        registry_add(srv, fd);
        if (pthread_create(&tid, &srv->attr, conn_main, c) != 0) {
            fprintf(stderr, "testsrv: cannot start a connection thread\n");
            registry_del(srv, fd);
            close(fd);
            free(c);
        }
    }
}

static void on_signal(int sig)
{
    int saved = errno;
    char ch = (char)sig;

    if (write(sig_pipe[1], &ch, 1) < 0) {
        /* nothing to do: the pipe is full, a stop is already pending */
    }
    errno = saved;
}

static void setup_process(void)
{
    struct sigaction sa;
    struct rlimit rl;

    /* fds 0-2 must be open, or a socket could take their place (stdin EOF means stop) */
    int fd = open("/dev/null", O_RDWR);

    while (fd >= 0 && fd <= 2)
        fd = open("/dev/null", O_RDWR);
    if (fd > 2)
        close(fd);
    if (pipe(sig_pipe) < 0)
        die("pipe failed");
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void server_init(struct server *srv)
{
    struct rlimit rl;

    memset(srv, 0, sizeof(*srv));
    if (pthread_mutex_init(&srv->lock, NULL) != 0 || pthread_attr_init(&srv->attr) != 0 ||
        pthread_attr_setdetachstate(&srv->attr, PTHREAD_CREATE_DETACHED) != 0 ||
        pthread_attr_setstacksize(&srv->attr, THREAD_STACK) != 0)
        die("cannot set up threads");
    srv->nactive = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1048576)
        srv->nactive = (size_t)rl.rlim_cur;
    srv->active = calloc(srv->nactive, 1);
    if (!srv->active)
        die("out of memory");
}

/* Stops accepting, wakes the connection threads and gives them STOP_WAIT_MS to finish. Returns
 * 1 if they all did (the process may then exit normally), 0 otherwise. */
static int server_stop(struct server *srv)
{
    struct timespec t0 = mono_now();

    for (int k = 0; k < L_COUNT; k++) {
        close(srv->l[k].fd);
        srv->l[k].fd = -1;
    }
    while (registry_count(srv) > 0 && ts_diff_ms(mono_now(), t0) < STOP_WAIT_MS) {
        registry_shutdown_all(srv);
        sleep_ms(10);
    }
    return registry_count(srv) == 0;
}

static void server_fini(struct server *srv)
{
    for (int k = 0; k < L_COUNT; k++)
        SSL_CTX_free(srv->l[k].ctx);
    close(srv->refused_fd);
    pthread_attr_destroy(&srv->attr);
    pthread_mutex_destroy(&srv->lock);
    free(srv->active);
}

static void serve(struct server *srv)
{
    struct pollfd pfd[L_COUNT + 2];
    int stdin_open = 1;

    for (;;) {
        int n = 0;

        for (int k = 0; k < L_COUNT; k++) {
            pfd[n].fd = srv->l[k].fd;
            pfd[n++].events = POLLIN;
        }
        pfd[n].fd = sig_pipe[0];
        pfd[n++].events = POLLIN;
        pfd[n].fd = stdin_open ? STDIN_FILENO : -1;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < n; i++)
            pfd[i].revents = 0;
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll failed");
        }
        for (int k = 0; k < L_COUNT; k++)
            if (pfd[k].revents)
                listener_accept(&srv->l[k]);
        if (pfd[L_COUNT].revents)
            return; /* SIGTERM or SIGINT */
        if (pfd[L_COUNT + 1].revents) {
            char tmp[512];
            ssize_t r = read(STDIN_FILENO, tmp, sizeof(tmp));

            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                return; /* our parent is gone */
        }
    }
}

int main(int argc, char **argv)
{
    struct server srv;
    X509 *ca;
    EVP_PKEY *ca_key;

    if ((argc != 3 && argc != 5) || strcmp(argv[1], "--dir") != 0 ||
        (argc == 5 && strcmp(argv[3], "--http-port") != 0)) {
        fprintf(stderr, "usage: testsrv --dir DIR [--http-port P]\n");
        return 2;
    }
    setup_process();
    server_init(&srv);
    if (argc == 5) {
        long long p;

        if (parse_num(argv[4], 1, 65535, &p) != 0) {
            fprintf(stderr, "testsrv: bad --http-port %s\n", argv[4]);
            return 2;
        }
        srv.l[L_HTTP].port = (int)p;
    }

    ca_key = tls_key_new();
    ca = tls_cert_new("vigie test CA", NULL, -60, 3650, ca_key, NULL, NULL);
    listener_start(&srv, L_HTTP, NULL);
    listener_start(&srv, L_HTTPS,
                   tls_ctx_new(ca, ca_key, "localhost", "IP:127.0.0.1,DNS:localhost", -1, 365));
    listener_start(&srv, L_EXPIRED,
                   tls_ctx_new(ca, ca_key, "localhost", "IP:127.0.0.1,DNS:localhost", -30, -1));
    listener_start(&srv, L_WRONGHOST,
                   tls_ctx_new(ca, ca_key, "wrong.example", "DNS:wrong.example", -1, 365));
    listener_start(&srv, L_SOON,
                   tls_ctx_new(ca, ca_key, "localhost", "IP:127.0.0.1,DNS:localhost", -1, 5));
    listener_start(&srv, L_SELFSIGNED,
                   tls_ctx_new(NULL, NULL, "localhost", "IP:127.0.0.1,DNS:localhost", -1, 365));
    listener_start(&srv, L_STALL, NULL);
    listener_start(&srv, L_SMTP, NULL);
    srv.l[L_SMTP].starttls = srv.l[L_HTTPS].ctx;
    listener_start(&srv, L_SMTPPLAIN, NULL);
    listener_start(&srv, L_SMTPS,
                   tls_ctx_new(ca, ca_key, "localhost", "IP:127.0.0.1,DNS:localhost", -1, 365));
    srv.dir = argv[2];
    srv.refused_port = 0;
    srv.refused_fd = bind_loopback(&srv.refused_port);
    tls_write_ca(argv[2], ca);
    X509_free(ca);
    EVP_PKEY_free(ca_key);

    printf("http=%d https=%d expired=%d wronghost=%d soon=%d stall=%d refused=%d smtp=%d "
           "smtps=%d smtpplain=%d selfsigned=%d\n",
           srv.l[L_HTTP].port, srv.l[L_HTTPS].port, srv.l[L_EXPIRED].port, srv.l[L_WRONGHOST].port,
           srv.l[L_SOON].port, srv.l[L_STALL].port, srv.refused_port, srv.l[L_SMTP].port,
           srv.l[L_SMTPS].port, srv.l[L_SMTPPLAIN].port, srv.l[L_SELFSIGNED].port);
    if (fflush(stdout) != 0)
        die("cannot write the port line");

    serve(&srv);
    if (!server_stop(&srv)) {
        /* some thread is still sleeping in a delay: don't free what it may touch */
        _exit(0);
    }
    server_fini(&srv);
    return 0;
}
