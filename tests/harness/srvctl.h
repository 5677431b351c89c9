/* srvctl — start and stop the loopback test server (tests/harness/testsrv/) from the tests.
 *
 * The server runs as a child process with a pipe on its stdin: it exits when that pipe closes,
 * so it cannot outlive the test process even when Check kills a test on timeout. Its listeners
 * are described at the top of tests/harness/testsrv/main.c, their behaviours at the top of
 * http.c, webhook.c and smtp.c beside it. Plain C: errors are returned (with a message on
 * stderr), never asserted, so benches can use it too. */
#ifndef VIGIE_SRVCTL_H
#define VIGIE_SRVCTL_H

#include <stddef.h>
#include <sys/types.h>

struct srvctl {
    pid_t pid;
    int in_fd; /* write end of the server's stdin: closing it stops the server */
    int http, https, expired, wronghost, soon, stall, refused; /* ports */
    int smtp, smtps, smtpplain;                                /* SMTP receivers */
    int selfsigned; /* TLS with a self-signed certificate */
    char dir[256];  /* temp dir holding ca.pem */
    char ca[300];   /* dir + "/ca.pem" */
};

/* Starts $VIGIE_TESTSRV (path set by `make test`; falls back to "build/testsrv") with a fresh
 * mkdtemp directory and reads its port line (within 10 s). Returns 0, or -1 with a message on
 * stderr and nothing left behind. Stop a started server with srvctl_stop. */
int srvctl_start(struct srvctl *s);

/* The same, with plain HTTP on 127.0.0.1:http_port (0: an ephemeral port, as srvctl_start): a
 * receiver stopped and started again at the same address. */
int srvctl_start_at(struct srvctl *s, int http_port);

/* Stops the server (SIGTERM, wait, SIGKILL after 2 s) and removes its directory. Safe to call
 * twice, and on a struct whose srvctl_start failed. */
void srvctl_stop(struct srvctl *s);

/* Writes "SCHEME://127.0.0.1:PORT" followed by path_and_query ("/" when NULL) into buf (len
 * bytes, truncated if need be); returns buf. */
char *srvctl_url(char *buf, size_t len, const char *scheme, int port, const char *path_and_query);

#endif
