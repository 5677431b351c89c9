/* nginx: vigie against a real nginx (Debian's nginx-light, /usr/sbin/nginx), which each test starts
 * with its own prefix, configuration, certificates and logs in a temporary directory, listening on
 * free 127.0.0.1 ports only: it never reads the system configuration nor touches port 80, so a
 * system nginx started by the package does not matter. What vigie did is seen from both ends: its
 * output, and nginx's access log, where every request has its connection's serial number, the
 * requests made on that connection so far, the protocol and the ALPN protocol.
 *
 *   h2          HTTP/2 over TLS chosen by ALPN (http: "2", "1.1", auto; auto over plain http)
 *   connections a fresh connection per check by default, one kept connection with reuse: true
 *   redirects   real 301/302/303/307/308 chains, http to https, max_redirects, a loop, a
 *               forbidden scheme, no following
 *   dashboard   docs/nginx-vigie.conf's server block serving a dashboard written by vigie
 *
 * nginx runs in its own process group and gets SIGTERM when the test process dies (a failed
 * assertion _exits it, a timeout kills it: PR_SET_PDEATHSIG), so no nginx outlives its test; the
 * case's unchecked teardown, in the runner, also kills any group whose pid file is left and removes
 * the directories. No nginx is a failure, never a skip: CI installs it (`make deps`). */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NGINX "/usr/sbin/nginx"
#define MAXHITS 256

/* The case's directory (unchecked fixture, runner process): every test's nginx lives below. */
static char s_base[256];

struct nginx {
    char dir[512]; /* its prefix: nginx.conf, logs, certificates, temp paths */
    pid_t pid;     /* the master, leader of its own process group */
    int port;      /* @PORT@: plain http */
    int tls_port;  /* @TLSPORT@ */
};

/* One line of the access log (log_format vigie below). */
struct hit {
    long conn, nreq; /* $connection, $connection_requests */
    int status;
    char proto[16], alpn[16], method[16], uri[256];
};

static void nginx_up(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(s_base, sizeof(s_base), "%s/vigie-nginx-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_base)) {
        fprintf(stderr, "nginx suite: mkdtemp %s: %s\n", s_base, strerror(errno));
        exit(1);
    }
    /* nginx's workers (an unprivileged user when it runs as root) read the dashboard below */
    chmod(s_base, 0755);
}

static void nginx_down(void)
{
    DIR *d = opendir(s_base);
    struct dirent *e;

    /* A test that died before stopping its nginx: the master had SIGTERM (PDEATHSIG) and removes
     * its pid file when it exits; a group still there is killed. */
    while (d && (e = readdir(d)) != NULL) {
        char path[600];
        FILE *f;
        long pid = 0;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/nginx.pid", s_base, e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)-pid, 0) == 0)
            kill((pid_t)-pid, SIGKILL);
        fclose(f);
    }
    if (d)
        closedir(d);
    test_rmtree(s_base);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh directory for one test, below the case's (caller frees). */
static char *case_dir(void)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "%s/t-XXXXXX", s_base);
    ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s: %s", buf, strerror(errno));
    ck_assert_int_eq(chmod(buf, 0755), 0);
    return strdup(buf);
}

/* `tmpl` with @DIR@, @PORT@ and @TLSPORT@ replaced by n's (caller frees). */
static char *subst(const char *tmpl, const struct nginx *n)
{
    size_t cap = strlen(tmpl) * 2 + 4096, off = 0;
    char *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    for (const char *p = tmpl; *p;) {
        char val[600];
        size_t skip = 0;

        val[0] = '\0';
        if (strncmp(p, "@DIR@", 5) == 0) {
            snprintf(val, sizeof(val), "%s", n->dir);
            skip = 5;
        } else if (strncmp(p, "@PORT@", 6) == 0) {
            snprintf(val, sizeof(val), "%d", n->port);
            skip = 6;
        } else if (strncmp(p, "@TLSPORT@", 9) == 0) {
            snprintf(val, sizeof(val), "%d", n->tls_port);
            skip = 9;
        }
        if (skip) {
            size_t l = strlen(val);

            ck_assert_uint_lt(off + l, cap);
            memcpy(out + off, val, l);
            off += l;
            p += skip;
        } else {
            ck_assert_uint_lt(off + 1, cap);
            out[off++] = *p++;
        }
    }
    out[off] = '\0';
    return out;
}

/* dir/name := tmpl with n's values; returns the path (caller frees). */
static char *write_subst(const char *dir, const char *name, const char *tmpl, const struct nginx *n)
{
    char *text = subst(tmpl, n), *path = test_write(dir, name, text);

    free(text);
    return path;
}

static char *path_in(const char *dir, const char *name)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return strdup(buf);
}

/* A throw-away CA (dir/ca.pem) and a certificate for IP:127.0.0.1 and DNS:localhost signed by it
 * (dir/srv.pem, dir/srv.key), EC P-256, valid for a year, made by the openssl command. */
static void make_certs(const char *dir)
{
    char *cakey = path_in(dir, "ca.key"), *ca = path_in(dir, "ca.pem");
    char *key = path_in(dir, "srv.key"), *csr = path_in(dir, "srv.csr"),
         *crt = path_in(dir, "srv.pem");
    char *ext = test_write(dir, "srv.ext",
                           "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                           "basicConstraints = critical, CA:FALSE\n"
                           "extendedKeyUsage = serverAuth\n");
    const char *const cmds[][24] = {
        {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", cakey, "-out", ca, "-days", "365", "-subj", "/CN=vigie nginx test CA", NULL},
        {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1", NULL},
        {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-set_serial", "2", "-days", "365",
         "-extfile", ext, "-out", crt, NULL},
    };

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *err = NULL;
        int rc = test_run("openssl", cmds[i], NULL, &err, 30);

        ck_assert_msg(rc == 0, "openssl %s: exit %d: %s", cmds[i][0], rc, err);
        free(err);
    }
    free(ext);
    free(crt);
    free(csr);
    free(key);
    free(ca);
    free(cakey);
}

/* Everything but the servers: one worker, logs and temp paths in the prefix, the access log
 * format the tests read. */
static const char CONF_HEAD[] =
    "# written by tests/e2e/test_nginx.c\n"
    "worker_processes 1;\n"
    "pid @DIR@/nginx.pid;\n"
    "error_log @DIR@/error.log info;\n"
    "events {\n"
    "    worker_connections 64;\n"
    "}\n"
    "http {\n"
    "    include /etc/nginx/mime.types;\n"
    "    default_type application/octet-stream;\n"
    "    log_format vigie 'c=$connection n=$connection_requests p=$server_protocol '\n"
    "                     'alpn=$ssl_alpn_protocol s=$status m=$request_method u=$request_uri';\n"
    "    access_log @DIR@/access.log vigie;\n"
    "    server_tokens off;\n"
    "    client_body_temp_path @DIR@/tmp/body;\n"
    "    proxy_temp_path @DIR@/tmp/proxy;\n"
    "    fastcgi_temp_path @DIR@/tmp/fastcgi;\n"
    "    uwsgi_temp_path @DIR@/tmp/uwsgi;\n"
    "    scgi_temp_path @DIR@/tmp/scgi;\n";

static char *nginx_file(const struct nginx *n, const char *name)
{
    return path_in(n->dir, name);
}

/* Forks the master (nginx -g 'daemon off;'), its own process group, its output in nginx.out. */
static pid_t nginx_spawn(const struct nginx *n)
{
    char prefix[600], conf[600], errlog[600], out[600];
    pid_t parent = getpid(), pid;

    snprintf(prefix, sizeof(prefix), "%s/", n->dir);
    snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
    snprintf(errlog, sizeof(errlog), "%s/error.log", n->dir);
    snprintf(out, sizeof(out), "%s/nginx.out", n->dir);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_RDONLY);
        long maxfd = sysconf(_SC_OPEN_MAX);

        setpgid(0, 0);
        /* dies with the test process, whatever ends it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        if (maxfd < 0 || maxfd > 65536)
            maxfd = 65536;
        for (int i = 3; i < maxfd; i++)
            close(i);
        execl(NGINX, NGINX, "-p", prefix, "-e", errlog, "-c", conf, "-g", "daemon off;",
              (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* The master's pid from its pid file, 0 while there is none: nginx writes it once its listening
 * sockets are bound. */
static long pid_file(const struct nginx *n)
{
    char *path = nginx_file(n, "nginx.pid");
    FILE *f = fopen(path, "r");
    long pid = 0;

    free(path);
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

/* Starts nginx in a fresh directory below the case's: certificates (make_certs), CONF_HEAD plus
 * `servers` (with @DIR@, @PORT@, @TLSPORT@ replaced, see subst), `nginx -t`, then the server, on
 * two free loopback ports; returns once it has bound them. A port taken meanwhile by someone else
 * means new ports, up to 5 times. */
static void nginx_start(struct nginx *n, const char *servers)
{
    char *dir;

    ck_assert_msg(access(NGINX, X_OK) == 0,
                  "%s is missing: the nginx suite needs Debian's nginx-light (make deps installs "
                  "it)",
                  NGINX);
    memset(n, 0, sizeof(*n));
    dir = case_dir();
    snprintf(n->dir, sizeof(n->dir), "%s", dir);
    free(dir);
    make_certs(n->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        char conf[600], errlog[600], prefix[600], head_servers[16384], *path, *err = NULL, *log;
        const char *argv[] = {"-t", "-p", prefix, "-e", errlog, "-c", conf, NULL};
        long deadline;
        int rc, status;

        n->port = test_free_port();
        do
            n->tls_port = test_free_port();
        while (n->tls_port == n->port);
        ck_assert_uint_lt(
            (size_t)snprintf(head_servers, sizeof(head_servers), "%s%s}\n", CONF_HEAD, servers),
            sizeof(head_servers));
        free(write_subst(n->dir, "nginx.conf", head_servers, n));
        snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
        snprintf(errlog, sizeof(errlog), "%s/error.log", n->dir);
        snprintf(prefix, sizeof(prefix), "%s/", n->dir);
        path = nginx_file(n, "tmp");
        mkdir(path, 0755);
        free(path);
        rc = test_run(NGINX, argv, NULL, &err, 20);
        ck_assert_msg(rc == 0, "nginx -t: exit %d:\n%s", rc, err);
        ck_assert_msg(strstr(err, "test is successful"), "nginx -t:\n%s", err);
        free(err);

        n->pid = nginx_spawn(n);
        deadline = now_ms() + 10000L * test_timeout(1);
        while (now_ms() < deadline) {
            pid_t w = waitpid(n->pid, &status, WNOHANG);

            if (w == n->pid)
                break;
            if (pid_file(n) == (long)n->pid)
                return;
            test_sleep_ms(10);
        }
        log = test_slurp(errlog, NULL);
        if (waitpid(n->pid, &status, WNOHANG) == 0) {
            kill(-n->pid, SIGKILL);
            waitpid(n->pid, &status, 0);
            ck_abort_msg("nginx did not start within 10 s:\n%s", log);
        }
        n->pid = -1;
        ck_assert_msg(strstr(log, "Address already in use"), "nginx exited at start:\n%s", log);
        free(log);
        path = nginx_file(n, "error.log");
        unlink(path);
        free(path);
    }
    ck_abort_msg("nginx: no free ports after 5 attempts");
}

/* The error log (caller frees). */
static char *nginx_errors(const struct nginx *n)
{
    char *path = nginx_file(n, "error.log"), *log = test_slurp(path, NULL);

    free(path);
    return log;
}

/* Stops nginx gracefully (SIGQUIT; SIGKILL to its group after 5 s) and asserts a clean exit and
 * an error log without [emerg], [alert] or [crit]. */
static void nginx_stop(struct nginx *n)
{
    long deadline = now_ms() + 5000L * test_timeout(1);
    pid_t w = 0;
    int status = 0;
    char *log;

    if (n->pid <= 0)
        return;
    kill(n->pid, SIGQUIT);
    while ((w = waitpid(n->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        test_sleep_ms(10);
    if (w == 0) {
        kill(-n->pid, SIGKILL);
        waitpid(n->pid, &status, 0);
    }
    n->pid = -1;
    log = nginx_errors(n);
    ck_assert_msg(w != 0, "nginx did not stop within 5 s of SIGQUIT:\n%s", log);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nginx: status %d:\n%s", status,
                  log);
    ck_assert_msg(!strstr(log, "[emerg]") && !strstr(log, "[alert]") && !strstr(log, "[crit]"),
                  "nginx's error log:\n%s", log);
    free(log);
}

/* The value of key= in an access log line, up to the next space ("" when empty). */
static void field(const char *line, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);

    out[0] = '\0';
    for (const char *p = line; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t l = strcspn(p + klen + 1, " \n");

            if (l >= len)
                l = len - 1;
            memcpy(out, p + klen + 1, l);
            out[l] = '\0';
            return;
        }
    }
}

static size_t parse_hits(const char *log, struct hit *h, size_t max)
{
    size_t n = 0;

    for (const char *line = log; *line && n < max;) {
        const char *end = strchr(line, '\n');
        char v[32];

        memset(&h[n], 0, sizeof(h[n]));
        field(line, "c", v, sizeof(v));
        h[n].conn = strtol(v, NULL, 10);
        field(line, "n", v, sizeof(v));
        h[n].nreq = strtol(v, NULL, 10);
        field(line, "s", v, sizeof(v));
        h[n].status = (int)strtol(v, NULL, 10);
        field(line, "p", h[n].proto, sizeof(h[n].proto));
        field(line, "alpn", h[n].alpn, sizeof(h[n].alpn));
        field(line, "m", h[n].method, sizeof(h[n].method));
        field(line, "u", h[n].uri, sizeof(h[n].uri));
        n++;
        if (!end)
            break;
        line = end + 1;
    }
    return n;
}

/* nginx's access log, one hit per request in the order nginx finished them, once it has at
 * least `want` lines (nginx writes a line after the response has left: a client can be faster;
 * at most 5 s) and then 100 ms more for any straggler. */
static size_t read_hits(const struct nginx *n, size_t want, struct hit *h, size_t max)
{
    char *path = nginx_file(n, "access.log");
    long deadline = now_ms() + 5000L * test_timeout(1);
    size_t got = 0;

    for (;;) {
        char *log = access(path, F_OK) == 0 ? test_slurp(path, NULL) : strdup("");

        got = parse_hits(log, h, max);
        free(log);
        if (got >= want || now_ms() >= deadline)
            break;
        test_sleep_ms(20);
    }
    test_sleep_ms(100);
    {
        char *log = test_slurp(path, NULL);

        got = parse_hits(log, h, max);
        free(log);
    }
    free(path);
    return got;
}

/* The hits whose path (the URI before any query) is `path`, copied to out in order. */
static size_t hits_at(const struct hit *h, size_t n, const char *path, struct hit *out, size_t max)
{
    size_t k = 0, plen = strlen(path);

    for (size_t i = 0; i < n && k < max; i++)
        if (strncmp(h[i].uri, path, plen) == 0 && (h[i].uri[plen] == '\0' || h[i].uri[plen] == '?'))
            out[k++] = h[i];
    return k;
}

/* `vigie check -c cfg --json`, whose exit status must be `want`: an object mapping each probe id
 * to its result (json_decref it). */
static json_t *check_json(const char *cfg, int want)
{
    const char *argv[] = {"check", "-c", cfg, "--json", NULL};
    char *out = NULL, *err = NULL;
    json_t *all = json_object();
    int rc = test_vigie(argv, &out, &err, 30);

    ck_assert_msg(rc == want, "vigie check: exit %d, want %d; stderr:\n%s\nstdout:\n%s", rc, want,
                  err, out);
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *id;

        ck_assert_msg(o != NULL, "not JSON: %s (%s)", line, je.text);
        id = json_string_value(json_object_get(o, "probe"));
        ck_assert_ptr_nonnull(id);
        json_object_set_new(all, id, o);
    }
    free(out);
    free(err);
    return all;
}

static json_t *result_of(json_t *all, const char *id)
{
    json_t *o = json_object_get(all, id);

    ck_assert_msg(o != NULL, "vigie check printed no result for %s", id);
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    ck_assert_msg(s != NULL, "no string %s", key);
    return s;
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "no integer %s", key);
    return json_integer_value(v);
}

/* ---- HTTP/2 over TLS, ALPN ------------------------------------------------------------------- */

static const char H2_SERVERS[] = "    server {\n"
                                 "        listen 127.0.0.1:@TLSPORT@ ssl http2;\n"
                                 "        ssl_certificate @DIR@/srv.pem;\n"
                                 "        ssl_certificate_key @DIR@/srv.key;\n"
                                 "        location / {\n"
                                 "            return 200 \"ok\\n\";\n"
                                 "        }\n"
                                 "    }\n"
                                 "    server {\n"
                                 "        listen 127.0.0.1:@PORT@;\n"
                                 "        location / {\n"
                                 "            return 200 \"ok\\n\";\n"
                                 "        }\n"
                                 "    }\n";

/* The vigie configuration every test starts from: the test CA as the probes' trust. */
static const char VIGIE_YAML[] = "probes_dir: probes.d\n"
                                 "defaults:\n"
                                 "  timeout: 5s\n"
                                 "  connect_timeout: 2s\n"
                                 "  tls:\n"
                                 "    ca_file: \"@DIR@/ca.pem\"\n";

/* http: "2" and auto get HTTP/2 from an nginx that offers h2 by ALPN, http: "1.1" asks for
 * http/1.1 only and gets it; auto over plain http is HTTP/1.1. Both sides say so: vigie's
 * http_version, and nginx's access log (the protocol and the ALPN protocol of each request). */
START_TEST(test_h2_alpn)
{
    static const struct {
        const char *id;
        const char *proto; /* $server_protocol */
        const char *alpn;  /* $ssl_alpn_protocol: "-" on a connection without TLS */
        int tls;
        const char *version; /* vigie's http_version */
    } cases[] = {
        {"h2", "HTTP/2.0", "h2", 1, "2"},
        {"h11", "HTTP/1.1", "http/1.1", 1, "1.1"},
        {"auto", "HTTP/2.0", "h2", 1, "2"},
        {"plain", "HTTP/1.1", "-", 0, "1.1"},
    };
    struct nginx n;
    struct hit hits[MAXHITS], mine[4];
    char *cfg, *probes;
    json_t *all;
    size_t nh;

    nginx_start(&n, H2_SERVERS);
    cfg = write_subst(n.dir, "vigie/vigie.yaml", VIGIE_YAML, &n);
    probes = write_subst(n.dir, "vigie/probes.d/nginx.yaml",
                         "group: \"nginx\"\n"
                         "probes:\n"
                         "  - id: h2\n"
                         "    url: \"https://127.0.0.1:@TLSPORT@/h2\"\n"
                         "    http: \"2\"\n"
                         "  - id: h11\n"
                         "    url: \"https://127.0.0.1:@TLSPORT@/h11\"\n"
                         "    http: \"1.1\"\n"
                         "  - id: auto\n"
                         "    url: \"https://127.0.0.1:@TLSPORT@/auto\"\n"
                         "  - id: plain\n"
                         "    url: \"http://127.0.0.1:@PORT@/plain\"\n",
                         &n);
    all = check_json(cfg, 0);
    nh = read_hits(&n, 4, hits, MAXHITS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = result_of(all, cases[i].id);
        char path[32];
        size_t k;

        ck_assert_msg(strcmp(jstr(o, "verdict"), "ok") == 0 &&
                          strcmp(jstr(o, "outcome"), "ok") == 0,
                      "%s: %s/%s (%s)", cases[i].id, jstr(o, "verdict"), jstr(o, "outcome"),
                      jstr(o, "message"));
        ck_assert_int_eq(jint(o, "status"), 200);
        ck_assert_int_eq(jint(o, "bytes"), 3);
        ck_assert_str_eq(jstr(o, "http_version"), cases[i].version);
        if (cases[i].tls) {
            ck_assert_msg(jint(o, "tls_us") > 0, "%s: tls_us", cases[i].id);
            ck_assert_msg(jint(o, "cert_days") >= 363 && jint(o, "cert_days") <= 365,
                          "%s: cert_days %lld", cases[i].id, jint(o, "cert_days"));
        } else {
            ck_assert(json_is_null(json_object_get(o, "tls_us")));
        }
        /* on the wire: one request, with the protocol ALPN chose */
        snprintf(path, sizeof(path), "/%s", cases[i].id);
        k = hits_at(hits, nh, path, mine, 4);
        ck_assert_msg(k == 1, "%s: nginx saw %zu requests", cases[i].id, k);
        ck_assert_msg(strcmp(mine[0].proto, cases[i].proto) == 0 &&
                          strcmp(mine[0].alpn, cases[i].alpn) == 0,
                      "%s: nginx saw %s with ALPN %s, want %s with %s", cases[i].id, mine[0].proto,
                      mine[0].alpn, cases[i].proto, cases[i].alpn);
        ck_assert_int_eq(mine[0].status, 200);
    }
    ck_assert_uint_eq(nh, 4);
    json_decref(all);
    free(probes);
    free(cfg);
    nginx_stop(&n);
}
END_TEST

/* ---- connections ------------------------------------------------------------------------------
 */

/* docs/CONFIG.md, reuse: "`false`: a fresh connection and DNS lookup for every check" (the
 * default); true keeps the connection between checks. `vigie run` checks four probes every
 * second for 5 s, over HTTP/1.1 and over h2 (TLS): nginx sees each check of a probe with reuse
 * false on a connection of its own that carries nothing else, and every check of a probe with
 * reuse true on one connection, its requests counted 1, 2, 3... */
START_TEST(test_connections)
{
    static const struct {
        const char *id;
        const char *proto;
        int reuse;
    } cases[] = {
        {"fresh-h1", "HTTP/1.1", 0},
        {"reuse-h1", "HTTP/1.1", 1},
        {"fresh-h2", "HTTP/2.0", 0},
        {"reuse-h2", "HTTP/2.0", 1},
    };
    struct nginx n;
    struct hit hits[MAXHITS], mine[MAXHITS];
    char *cfg, *probes, *err = NULL;
    size_t nh;
    int rc;

    nginx_start(&n, H2_SERVERS);
    cfg = write_subst(n.dir, "vigie/vigie.yaml",
                      "probes_dir: probes.d\n"
                      "rrd_dir: rrd\n"
                      "rrd_flush: 1s\n"
                      "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
                      "drain_timeout: 2s\n"
                      "graphs: {enabled: false}\n"
                      "defaults:\n"
                      "  interval: 1s\n"
                      "  timeout: 1s\n"
                      "  tls:\n"
                      "    ca_file: \"@DIR@/ca.pem\"\n",
                      &n);
    probes = write_subst(n.dir, "vigie/probes.d/nginx.yaml",
                         "group: \"nginx\"\n"
                         "probes:\n"
                         "  - id: fresh-h1\n"
                         "    url: \"http://127.0.0.1:@PORT@/fresh-h1\"\n"
                         "  - id: reuse-h1\n"
                         "    url: \"http://127.0.0.1:@PORT@/reuse-h1\"\n"
                         "    reuse: true\n"
                         "  - id: fresh-h2\n"
                         "    url: \"https://127.0.0.1:@TLSPORT@/fresh-h2\"\n"
                         "  - id: reuse-h2\n"
                         "    url: \"https://127.0.0.1:@TLSPORT@/reuse-h2\"\n"
                         "    reuse: true\n",
                         &n);
    {
        const char *argv[] = {"run", "-c", cfg, "--duration", "5s", NULL};

        rc = test_vigie(argv, NULL, &err, 30);
        ck_assert_msg(rc == 0, "vigie run: exit %d: %s", rc, err);
        free(err);
    }
    nh = read_hits(&n, 12, hits, MAXHITS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[32];
        size_t k;

        snprintf(path, sizeof(path), "/%s", cases[i].id);
        k = hits_at(hits, nh, path, mine, MAXHITS);
        ck_assert_msg(k >= 3, "%s: %zu checks in 5 s at 1 s intervals", cases[i].id, k);
        for (size_t j = 0; j < k; j++) {
            ck_assert_msg(mine[j].status == 200 && strcmp(mine[j].proto, cases[i].proto) == 0,
                          "%s: check %zu: %d over %s", cases[i].id, j, mine[j].status,
                          mine[j].proto);
            if (cases[i].reuse) {
                ck_assert_msg(mine[j].conn == mine[0].conn && mine[j].nreq == (long)j + 1,
                              "%s: check %zu on connection %ld as its request %ld; the first "
                              "was on %ld",
                              cases[i].id, j, mine[j].conn, mine[j].nreq, mine[0].conn);
            } else {
                ck_assert_msg(mine[j].nreq == 1, "%s: check %zu was request %ld of connection %ld",
                              cases[i].id, j, mine[j].nreq, mine[j].conn);
                for (size_t m = 0; m < j; m++)
                    ck_assert_msg(mine[m].conn != mine[j].conn,
                                  "%s: checks %zu and %zu on connection %ld", cases[i].id, m, j,
                                  mine[j].conn);
            }
        }
    }
    free(probes);
    free(cfg);
    nginx_stop(&n);
}
END_TEST

/* ---- redirects --------------------------------------------------------------------------------
 */

/* Every hop keeps the query (?p=<probe id>): nginx's log tells whose request each one was. */
static const char REDIRECT_SERVERS[] =
    "    server {\n"
    "        listen 127.0.0.1:@PORT@;\n"
    "        location = /c4 {\n"
    "            return 301 /c3$is_args$args;\n"
    "        }\n"
    "        location = /c3 {\n"
    "            return 302 /c2$is_args$args;\n"
    "        }\n"
    "        location = /c2 {\n"
    "            absolute_redirect off; # a relative Location: /c1?...\n"
    "            return 307 /c1$is_args$args;\n"
    "        }\n"
    "        location = /c1 {\n"
    "            return 308 /final$is_args$args;\n"
    "        }\n"
    "        location = /see-other {\n"
    "            return 303 /final$is_args$args;\n"
    "        }\n"
    "        location = /final {\n"
    "            return 200 \"final\\n\";\n"
    "        }\n"
    "        location = /loop {\n"
    "            return 302 /loop$is_args$args;\n"
    "        }\n"
    "        location = /to-https {\n"
    "            return 301 https://127.0.0.1:@TLSPORT@/final$is_args$args;\n"
    "        }\n"
    "        location = /to-ftp {\n"
    "            return 302 ftp://127.0.0.1:@PORT@/final$is_args$args;\n"
    "        }\n"
    "    }\n"
    "    server {\n"
    "        listen 127.0.0.1:@TLSPORT@ ssl http2;\n"
    "        ssl_certificate @DIR@/srv.pem;\n"
    "        ssl_certificate_key @DIR@/srv.key;\n"
    "        location = /final {\n"
    "            return 200 \"final\\n\";\n"
    "        }\n"
    "    }\n";

#define LOOP11 "/loop /loop /loop /loop /loop /loop /loop /loop /loop /loop /loop"

/* Real redirect chains: followed to the final answer, which is judged, with the number of hops
 * (docs/CONFIG.md: follow_redirects, max_redirects, "expect.status: judged after redirects");
 * more hops than max_redirects, and a loop, are class redirect_loop (src/net/result.h,
 * docs/RELIABILITY.md); a redirect to ftp:// is refused, class protocol; follow_redirects: false
 * and a probe with headers judge the first answer. nginx's log shows each probe's hops. */
START_TEST(test_redirects)
{
    static const struct {
        const char *id;
        const char *path;
        const char *keys; /* YAML lines of the probe, after url */
        const char *verdict, *outcome;
        long status, redirects; /* redirects -1: not asserted */
        const char *url;        /* the effective URL, a template */
        const char *msg;        /* in the message */
        const char *hops;       /* the paths nginx saw for this probe, in order */
    } cases[] = {
        {"chain", "/c4", "", "ok", "ok", 200, 4, "http://127.0.0.1:@PORT@/final?p=chain", "",
         "/c4 /c3 /c2 /c1 /final"},
        {"chain-max4", "/c4", "    max_redirects: 4\n", "ok", "ok", 200, 4,
         "http://127.0.0.1:@PORT@/final?p=chain-max4", "", "/c4 /c3 /c2 /c1 /final"},
        {"chain-max3", "/c4", "    max_redirects: 3\n", "down", "redirect_loop", 308, 3,
         "http://127.0.0.1:@PORT@/c1?p=chain-max3", "Maximum (3) redirects followed",
         "/c4 /c3 /c2 /c1"},
        {"see-other", "/see-other", "", "ok", "ok", 200, 1,
         "http://127.0.0.1:@PORT@/final?p=see-other", "", "/see-other /final"},
        {"to-https", "/to-https", "", "ok", "ok", 200, 1,
         "https://127.0.0.1:@TLSPORT@/final?p=to-https", "", "/to-https /final"},
        {"loop", "/loop", "", "down", "redirect_loop", 302, 10,
         "http://127.0.0.1:@PORT@/loop?p=loop", "Maximum (10) redirects followed", LOOP11},
        {"no-follow", "/c4", "    follow_redirects: false\n", "ok", "ok", 301, 0,
         "http://127.0.0.1:@PORT@/c4?p=no-follow", "", "/c4"},
        {"no-follow-200", "/c4", "    follow_redirects: false\n    expect: {status: 200}\n", "down",
         "http_status", 301, 0, "http://127.0.0.1:@PORT@/c4?p=no-follow-200",
         "status 301 not in 200", "/c4"},
        {"headers", "/c4", "    headers: {X-Probe: nginx}\n", "ok", "ok", 301, 0,
         "http://127.0.0.1:@PORT@/c4?p=headers", "", "/c4"},
        /* libcurl counts the redirect it refuses (redirects 1): not asserted, nginx's log says
         * what was requested */
        {"to-ftp", "/to-ftp", "", "down", "protocol", 302, -1, NULL, "ftp", "/to-ftp"},
    };
    struct nginx n;
    struct hit hits[MAXHITS];
    char probes[8192], *cfg, *path;
    size_t off, nh, want = 0, seen = 0;
    json_t *all;

    nginx_start(&n, REDIRECT_SERVERS);
    cfg = write_subst(n.dir, "vigie/vigie.yaml", VIGIE_YAML, &n);
    off = (size_t)snprintf(probes, sizeof(probes), "group: \"nginx\"\nprobes:\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        off += (size_t)snprintf(probes + off, sizeof(probes) - off,
                                "  - id: %s\n    url: \"http://127.0.0.1:@PORT@%s?p=%s\"\n%s",
                                cases[i].id, cases[i].path, cases[i].id, cases[i].keys);
        ck_assert_uint_lt(off, sizeof(probes));
        for (const char *h = cases[i].hops; *h; h++)
            want += *h == '/';
    }
    path = write_subst(n.dir, "vigie/probes.d/nginx.yaml", probes, &n);
    all = check_json(cfg, 2);
    nh = read_hits(&n, want, hits, MAXHITS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = result_of(all, cases[i].id);
        char query[80], hops[1024];
        size_t hl = 0;

        ck_assert_msg(strcmp(jstr(o, "verdict"), cases[i].verdict) == 0 &&
                          strcmp(jstr(o, "outcome"), cases[i].outcome) == 0,
                      "%s: %s/%s (%s), want %s/%s", cases[i].id, jstr(o, "verdict"),
                      jstr(o, "outcome"), jstr(o, "message"), cases[i].verdict, cases[i].outcome);
        ck_assert_msg(jint(o, "status") == cases[i].status &&
                          (cases[i].redirects < 0 || jint(o, "redirects") == cases[i].redirects),
                      "%s: status %lld after %lld redirects, want %ld after %ld", cases[i].id,
                      jint(o, "status"), jint(o, "redirects"), cases[i].status, cases[i].redirects);
        ck_assert_msg(strstr(jstr(o, "message"), cases[i].msg), "%s: message \"%s\", want \"%s\"",
                      cases[i].id, jstr(o, "message"), cases[i].msg);
        if (cases[i].url) {
            char *url = subst(cases[i].url, &n);

            ck_assert_msg(strcmp(jstr(o, "url"), url) == 0, "%s: url %s, want %s", cases[i].id,
                          jstr(o, "url"), url);
            free(url);
        }
        if (cases[i].redirects > 0 && strcmp(cases[i].outcome, "ok") == 0)
            ck_assert_msg(jint(o, "redirect_us") > 0, "%s: redirect_us", cases[i].id);
        if (strcmp(cases[i].id, "to-https") == 0)
            ck_assert_msg(jint(o, "tls_us") > 0, "to-https: tls_us");

        /* on the wire: this probe's requests, hop by hop */
        snprintf(query, sizeof(query), "?p=%s", cases[i].id);
        hops[0] = '\0';
        for (size_t j = 0; j < nh; j++) {
            char *q = strchr(hits[j].uri, '?');

            if (!q || strcmp(q, query) != 0)
                continue;
            hl += (size_t)snprintf(hops + hl, sizeof(hops) - hl, "%s%.*s", hl ? " " : "",
                                   (int)(q - hits[j].uri), hits[j].uri);
            ck_assert_uint_lt(hl, sizeof(hops));
            if (strcmp(cases[i].id, "to-https") == 0 &&
                strcmp(hits[j].uri, "/final?p=to-https") == 0)
                ck_assert_msg(strcmp(hits[j].alpn, "h2") == 0, "to-https: the https hop's ALPN: %s",
                              hits[j].alpn);
            seen++;
        }
        ck_assert_msg(strcmp(hops, cases[i].hops) == 0, "%s: nginx saw \"%s\", want \"%s\"",
                      cases[i].id, hops, cases[i].hops);
    }
    ck_assert_uint_eq(seen, nh);
    json_decref(all);
    free(path);
    free(cfg);
    nginx_stop(&n);
}
END_TEST

/* ---- the shipped nginx site serving the dashboard -------------------------------------------- */

static const char *srcdir(void)
{
    const char *s = getenv("VIGIE_SRCDIR");

    return s ? s : ".";
}

/* Whether ::1 can be bound here (a machine or container may have no IPv6). */
static int have_ipv6(void)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    sa.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* docs/nginx-vigie.conf's server { } block, with only its listen lines rewritten (127.0.0.1:@PORT@,
 * and [::1]:@PORT@ when ipv6, else the [::] line dropped) and its root (`graphs`); the rest as
 * shipped. Asserts that the file has the two listen lines and the root line. The value of its
 * Content-Security-Policy goes to csp. Caller frees. */
static char *site_block(const char *graphs, int ipv6, char *csp, size_t csplen)
{
    char *path = path_in(srcdir(), "docs/nginx-vigie.conf"), *text = test_slurp(path, NULL);
    size_t cap = strlen(text) + 4096, off = 0;
    char *out = malloc(cap);
    int depth = 0, in = 0, v4 = 0, v6 = 0, roots = 0;

    ck_assert_ptr_nonnull(out);
    csp[0] = '\0';
    for (char *line = text, *next; line && *line; line = next) {
        const char *t = line, *c;
        char *hash;
        int opens = 0, closes = 0;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*t == ' ' || *t == '\t')
            t++;
        if (!in && strncmp(t, "server {", 8) != 0)
            continue;
        in = 1;
        hash = strchr(line, '#');
        for (const char *p = line; *p && (!hash || p < hash); p++) {
            opens += *p == '{';
            closes += *p == '}';
        }
        if (strncmp(t, "listen ", 7) == 0 && strstr(t, "[::]")) {
            v6++;
            if (ipv6)
                off += (size_t)snprintf(out + off, cap - off, "    listen [::1]:@PORT@;\n");
        } else if (strncmp(t, "listen ", 7) == 0) {
            v4++;
            off += (size_t)snprintf(out + off, cap - off, "    listen 127.0.0.1:@PORT@;\n");
        } else if (strncmp(t, "root ", 5) == 0) {
            roots++;
            off += (size_t)snprintf(out + off, cap - off, "    root %s;\n", graphs);
        } else {
            off += (size_t)snprintf(out + off, cap - off, "%s\n", line);
        }
        ck_assert_uint_lt(off, cap);
        if ((c = strstr(line, "Content-Security-Policy \"")) != NULL) {
            const char *v = c + strlen("Content-Security-Policy \""), *e = strchr(v, '"');

            ck_assert_ptr_nonnull(e);
            snprintf(csp, csplen, "%.*s", (int)(e - v), v);
        }
        depth += opens - closes;
        if (depth == 0)
            break;
    }
    ck_assert_msg(in && depth == 0, "%s: no complete server { } block", path);
    ck_assert_msg(v4 == 1 && v6 == 1 && roots == 1,
                  "%s: %d IPv4 and %d IPv6 listen lines, %d root lines: the test rewrites one of "
                  "each",
                  path, v4, v6, roots);
    ck_assert_msg(csp[0], "%s: no Content-Security-Policy", path);
    free(text);
    free(path);
    return out;
}

struct reply {
    int status;
    char *head; /* status line and headers */
    char *body;
    size_t body_len;
};

static void reply_free(struct reply *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* One HTTP/1.0 request to the loopback address of `family`, the path sent as is (no client
 * normalises it): the whole answer, read until nginx closes. */
static void http_do(int family, int port, const char *method, const char *path, struct reply *r)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char req[1024], *buf = NULL, *sep;
    size_t len = 0, cap = 0;
    long deadline = now_ms() + 5000L * test_timeout(1);
    int fd = socket(family, SOCK_STREAM, 0);

    memset(r, 0, sizeof(*r));
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&ss, sl) == 0, "connect to port %d: %s", port,
                  strerror(errno));
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.0\r\nHost: vigie.example.org\r\nUser-Agent: vigie-test\r\n%s\r\n",
             method, path, strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long left = deadline - now_ms();
        ssize_t got;

        ck_assert_msg(left > 0, "%s %s: no complete answer within 5 s", method, path);
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (len + 4096 + 1 > cap) {
            char *bigger = realloc(buf, cap ? cap * 2 : 65536);

            ck_assert_ptr_nonnull(bigger);
            buf = bigger;
            cap = cap ? cap * 2 : 65536;
        }
        got = read(fd, buf + len, 4096);
        ck_assert_msg(got >= 0, "%s %s: read: %s", method, path, strerror(errno));
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    ck_assert_ptr_nonnull(buf);
    buf[len] = '\0';
    ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &r->status) == 1, "%s %s: not HTTP: %.200s", method,
                  path, buf);
    sep = strstr(buf, "\r\n\r\n");
    ck_assert_msg(sep != NULL, "%s %s: no end of head", method, path);
    r->head = strndup(buf, (size_t)(sep - buf) + 2);
    r->body_len = len - (size_t)(sep + 4 - buf);
    r->body = malloc(r->body_len + 1);
    ck_assert_ptr_nonnull(r->body);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
}

/* The value of header `name` in a reply's head (case-insensitive name), "" when absent. */
static const char *header(const struct reply *r, const char *name, char *buf, size_t len)
{
    size_t nlen = strlen(name);

    buf[0] = '\0';
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2, *e = strstr(l, "\r\n");

        if (strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
            const char *v = l + nlen + 1;

            while (*v == ' ')
                v++;
            snprintf(buf, len, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            break;
        }
    }
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The shipped site (docs/nginx-vigie.conf: "copy this file to /etc/nginx/sites-available/vigie")
 * with only its listen and root lines changed, inside an http { } with Debian's mime.types, in
 * front of a dashboard that `vigie dashboard` wrote, plus a PNG and an SVG where vigie draws its
 * overview graph. nginx -t accepts it (nginx_start); nginx's workers, an unprivileged user, read
 * the files as vigie wrote them. Every dashboard file comes back byte for byte with the headers
 * the site promises (no-cache, nosniff, the CSP); the methods that write are refused; nothing
 * outside graphs_dir is reachable, not even vigie.yaml next to it; no directory is listed; every
 * link of the index that names a file present is served, the others are 404. */
START_TEST(test_dashboard_site)
{
    static const unsigned char png[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
        0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
        0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
        0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" "
                              "height=\"1\"><rect width=\"1\" height=\"1\"/></svg>\n";
    static const struct {
        const char *method, *path;
        int status;
        const char *file;  /* served: this file of graphs_dir, with the site's headers */
        const char *ctype; /* its Content-Type */
    } cases[] = {
        {"GET", "/", 200, "index.html", "text/html"},
        {"GET", "/index.html", 200, "index.html", "text/html"},
        {"GET", "/probe/a.html", 200, "probe/a.html", "text/html"},
        {"GET", "/overview-day.png", 200, "overview-day.png", "image/png"},
        {"GET", "/overview-day.svg", 200, "overview-day.svg", "image/svg+xml"},
        {"HEAD", "/", 200, NULL, NULL},
        /* read-only: location / has limit_except GET HEAD (403); the files' own location, a
         * sibling, does not inherit it: nginx's static module refuses the rest (405) */
        {"POST", "/", 403, NULL, NULL},
        {"DELETE", "/", 403, NULL, NULL},
        {"POST", "/index.html", 405, NULL, NULL},
        {"PUT", "/probe/a.html", 405, NULL, NULL},
        {"DELETE", "/overview-day.png", 405, NULL, NULL},
        /* nothing outside graphs_dir: vigie.yaml sits next to it */
        {"GET", "/../vigie.yaml", 400, NULL, NULL},
        {"GET", "/%2e%2e/vigie.yaml", 400, NULL, NULL},
        {"GET", "/probe/../../vigie.yaml", 400, NULL, NULL},
        {"GET", "/vigie.yaml", 404, NULL, NULL},
        {"GET", "/missing.html", 404, NULL, NULL},
        /* no listing of a directory without index.html */
        {"GET", "/probe/", 403, NULL, NULL},
    };
    struct nginx n;
    char *dir = case_dir(), *graphs = path_in(dir, "graphs"), *cfg, *block, *p, *index;
    char csp[512], v[512];
    int ipv6 = have_ipv6(), links = 0, present = 0;

    /* the dashboard, as vigie writes it (no RRD file yet: every probe without data) */
    free(test_write(dir, "probes.d/a.yaml",
                    "group: \"G\"\nprobes:\n  - {id: a, url: \"http://127.0.0.1:9/\"}\n"));
    cfg = test_write(dir, "vigie.yaml", "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\n");
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        char *err = NULL;
        int rc = test_vigie(argv, NULL, &err, 30);

        ck_assert_msg(rc == 0, "vigie dashboard: exit %d: %s", rc, err);
        free(err);
    }
    p = path_in(graphs, "overview-day.png");
    write_bytes(p, png, sizeof(png));
    free(p);
    p = path_in(graphs, "overview-day.svg");
    write_bytes(p, svg, strlen(svg));
    free(p);

    block = site_block(graphs, ipv6, csp, sizeof(csp));
    ck_assert_msg(strstr(csp, "default-src 'self'"), "CSP %s", csp);
    nginx_start(&n, block);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reply r;

        http_do(AF_INET, n.port, cases[i].method, cases[i].path, &r);
        if (r.status != cases[i].status) {
            char *log = nginx_errors(&n);

            ck_abort_msg("%s %s: %d, want %d\n%s\nnginx's error log:\n%s", cases[i].method,
                         cases[i].path, r.status, cases[i].status, r.head, log);
        }
        ck_assert_msg(!strstr(r.body, "probes_dir"), "%s %s: vigie.yaml came out", cases[i].method,
                      cases[i].path);
        if (strcmp(cases[i].method, "HEAD") == 0)
            ck_assert_uint_eq(r.body_len, 0);
        if (cases[i].file || strcmp(cases[i].method, "HEAD") == 0) {
            ck_assert_msg(strcmp(header(&r, "Cache-Control", v, sizeof(v)), "no-cache") == 0,
                          "%s %s: Cache-Control: %s", cases[i].method, cases[i].path, v);
            ck_assert_msg(strcmp(header(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff") ==
                              0,
                          "%s %s: X-Content-Type-Options: %s", cases[i].method, cases[i].path, v);
            ck_assert_msg(strcmp(header(&r, "Content-Security-Policy", v, sizeof(v)), csp) == 0,
                          "%s %s: Content-Security-Policy: %s, want %s", cases[i].method,
                          cases[i].path, v, csp);
        }
        if (cases[i].file) {
            char *f = path_in(graphs, cases[i].file);
            size_t flen;
            char *want = test_slurp(f, &flen);

            ck_assert_msg(strcmp(header(&r, "Content-Type", v, sizeof(v)), cases[i].ctype) == 0,
                          "%s: Content-Type: %s, want %s", cases[i].path, v, cases[i].ctype);
            ck_assert_msg(r.body_len == flen && memcmp(r.body, want, flen) == 0,
                          "%s: %zu bytes, not the %zu of %s", cases[i].path, r.body_len, flen, f);
            free(want);
            free(f);
        }
        if (strcmp(cases[i].path, "/probe/") == 0)
            ck_assert_msg(!strstr(r.body, "a.html"), "/probe/ listed:\n%s", r.body);
        reply_free(&r);
    }

    /* the index's links: a file that is there is served, one not drawn yet is 404 */
    p = path_in(graphs, "index.html");
    index = test_slurp(p, NULL);
    free(p);
    for (const char *q = index; (q = strstr(q, "=\"")) != NULL; q += 2) {
        char link[300], url[310];
        const char *e = strchr(q + 2, '"');
        struct reply r;
        size_t l;
        int there;

        if ((strncmp(q - 4, "href", 4) != 0 && strncmp(q - 3, "src", 3) != 0) || !e)
            continue;
        l = strcspn(q + 2, "\"#");
        if (l == 0 || l >= sizeof(link) || memchr(q + 2, ':', l))
            continue;
        snprintf(link, sizeof(link), "%.*s", (int)l, q + 2);
        snprintf(url, sizeof(url), "/%s", link);
        p = path_in(graphs, link);
        there = access(p, F_OK) == 0;
        free(p);
        http_do(AF_INET, n.port, "GET", url, &r);
        ck_assert_msg(r.status == (there ? 200 : 404), "the index's link %s: %d (file %s)", link,
                      r.status, there ? "present" : "absent");
        reply_free(&r);
        links++;
        present += there;
    }
    /* probe/a.html, overview-day.png and .svg at least */
    ck_assert_msg(present >= 3 && links > present, "%d links, %d present", links, present);
    free(index);

    if (ipv6) {
        struct reply r;

        http_do(AF_INET6, n.port, "GET", "/", &r);
        ck_assert_msg(r.status == 200, "GET [::1]/: %d", r.status);
        reply_free(&r);
    }
    nginx_stop(&n);
    free(block);
    free(cfg);
    free(graphs);
    free(dir);
}
END_TEST

Suite *nginx_suite(void)
{
    Suite *s = suite_create("nginx");
    TCase *tc = tcase_create("nginx");

    tcase_add_unchecked_fixture(tc, nginx_up, nginx_down);
    tcase_set_timeout(tc, test_timeout(30));
    tcase_add_test(tc, test_h2_alpn);
    tcase_add_test(tc, test_connections);
    tcase_add_test(tc, test_redirects);
    tcase_add_test(tc, test_dashboard_site);
    suite_add_tcase(s, tc);
    return s;
}
