/* url: libcurl's URL parser behind the configuration's checks, the per-host keys, the redacted
 * URLs of logs and results, and the simulator's rewriting. Pure: no server, no loop. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "testutil.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

START_TEST(test_url_check)
{
    static const struct {
        const char *url;
        int ok;
    } cases[] = {
        {"https://www.impots.gouv.fr/", 1},
        {"http://127.0.0.1:8080/x?y=1#frag", 1},
        {"HTTPS://EXAMPLE.FR", 1},
        {"ftp://example.fr/", 0},
        {"file:///etc/passwd", 0},
        {"gopher://x/", 0},
        {"example.fr", 0},
        {"https://", 0},
        {"https://exa mple.fr/", 0},
        {"", 0},
    };
    char buf[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        int rc = url_check(cases[i].url, &why);

        ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\": rc %d (%s)", cases[i].url, rc,
                      why ? why : "");
        if (!cases[i].ok)
            ck_assert_ptr_nonnull(why);
    }
    url_redact("https://user:secret@host.fr/p?q=a@b", buf, sizeof(buf));
    ck_assert_str_eq(buf, "https://host.fr/p?q=a@b");
    url_redact("https://host.fr/p?q=a@b", buf, sizeof(buf));
    ck_assert_str_eq(buf, "https://host.fr/p?q=a@b");
}
END_TEST

/* url_check (http and https, credentials allowed) and url_check_schemes (credentials refused). */
static const struct check_case {
    const char *url;
    const char *const *schemes; /* NULL: url_check */
    int rc;
    const char *why; /* NULL: any reason */
} checks[] = {
    {"http://[::1]:8080/x", NULL, 0, NULL},
    {"https://user:secret@host.fr/p", NULL, 0, NULL},
    {"ftp://example.fr/", NULL, -EINVAL, "unsupported scheme, only http and https"},
    {"https://", NULL, -EINVAL, NULL},
    {"http://[::1/", NULL, -EINVAL, NULL},
    {"http://h:99999/", NULL, -EINVAL, NULL},
    {"smtp://mail.example.fr:25", (const char *const[]){"smtp", "smtps", NULL}, 0, NULL},
    {"SMTPS://[::1]:465", (const char *const[]){"smtp", "smtps", NULL}, 0, NULL},
    {"https://hook.example.fr/x", (const char *const[]){"smtp", NULL}, -EINVAL,
     "unsupported scheme"},
    {"https://u:pw@hook.example.fr/x", (const char *const[]){"https", NULL}, -EPERM,
     "credentials in the URL"},
    {"https://u@hook.example.fr/x", (const char *const[]){"https", NULL}, -EPERM, NULL},
    {"https://:pw@hook.example.fr/x", (const char *const[]){"https", NULL}, -EPERM, NULL},
    {"file:///etc/passwd", (const char *const[]){"file", NULL}, -EINVAL, "no host"},
    {"hook.example.fr/x", (const char *const[]){"https", NULL}, -EINVAL, NULL},
};

START_TEST(test_check)
{
    const struct check_case *c = &checks[_i];
    const char *why = NULL;
    int rc = c->schemes ? url_check_schemes(c->url, c->schemes, &why) : url_check(c->url, &why);

    ck_assert_msg(rc == c->rc, "\"%s\": rc %d, expected %d (%s)", c->url, rc, c->rc,
                  why ? why : "");
    if (rc != 0)
        ck_assert_ptr_nonnull(why);
    if (c->why)
        ck_assert_str_eq(why, c->why);
}
END_TEST

static const struct {
    const char *url, *host; /* host NULL: url_host fails */
} hosts[] = {
    {"https://WWW.Impots.Gouv.fr/x", "www.impots.gouv.fr:443"},
    {"http://example.fr", "example.fr:80"},
    {"http://[::1]:8080/x", "[::1]:8080"},
    {"http://[FE80::1]/", "[fe80::1]:80"},
    {"https://user:secret@host.fr:8443/", "host.fr:8443"},
    {"example.fr", NULL},
    {"http://exa mple.fr/", NULL},
    {"", NULL},
};

START_TEST(test_host)
{
    char *h = url_host(hosts[_i].url);

    if (hosts[_i].host)
        ck_assert_str_eq(h, hosts[_i].host);
    else
        ck_assert_ptr_null(h);
    free(h);
}
END_TEST

static const struct {
    const char *url, *out;
} redactions[] = {
    /* Without credentials: as it is, to the byte. */
    {"HTTPS://EXAMPLE.FR", "HTTPS://EXAMPLE.FR"},
    {"http://[::1]:8080/a/../b?x=%20", "http://[::1]:8080/a/../b?x=%20"},
    {"not a url", "not a url"},
    /* With them: gone, user, password and login options. */
    {"https://user:secret@host.fr/p?q=a@b", "https://host.fr/p?q=a@b"},
    {"http://u:pw@[::1]:8080/x", "http://[::1]:8080/x"},
    {"https://token@host.fr/", "https://host.fr/"},
    {"https://:pw@host.fr/", "https://host.fr/"},
    {"smtp://u:p@mail.fr:25/", "smtp://mail.fr:25/"},
    {"imap://u;AUTH=x@mail.fr/", "imap://mail.fr/"},
    /* libcurl does not parse it: the authority up to its last "@" still goes. */
    {"http://u:secret@exa mple.fr/", "http://exa mple.fr/"},
    {"http://u:p@ss w@exa mple.fr/?q=@", "http://exa mple.fr/?q=@"},
};

START_TEST(test_redact)
{
    char buf[128];

    url_redact(redactions[_i].url, buf, sizeof(buf));
    ck_assert_str_eq(buf, redactions[_i].out);
}
END_TEST

START_TEST(test_redact_truncates)
{
    char buf[12] = "untouched";

    url_redact("https://user:secret@host.fr/p", buf, 0);
    ck_assert_str_eq(buf, "untouched");
    url_redact("https://user:secret@host.fr/p", buf, sizeof(buf));
    ck_assert_str_eq(buf, "https://hos");
    url_redact("https://host.fr/long/path", buf, sizeof(buf));
    ck_assert_str_eq(buf, "https://hos");
}
END_TEST

static const struct {
    const char *url;
    int rc;
    const char *scheme, *host;
    unsigned port;
    const char *path;
} parts[] = {
    {"https://ent.example.org/a/b?c=d#/x", 0, "https", "ent.example.org", 443, "/a/b?c=d#/x"},
    {"http://example.org", 0, "http", "example.org", 80, "/"},
    {"HTTP://Example.ORG:8080", 0, "http", "Example.ORG", 8080, "/"},
    {"http://[::1]:8080/x", 0, "http", "[::1]", 8080, "/x"},
    {"https://user:secret@host.fr/p", 0, "https", "host.fr", 443, "/p"},
    {"http://h.fr/a/../b/%7e?", 0, "http", "h.fr", 80, "/a/../b/%7e?"},
    {"http://h.fr?q=1", 0, "http", "h.fr", 80, "/?q=1"},
    {"smtp://mail.fr", 0, "smtp", "mail.fr", 25, "/"},
    {"example.org/x", -EINVAL, NULL, NULL, 0, NULL},
    {"https://", -EINVAL, NULL, NULL, 0, NULL},
    {"http://exa mple.fr/", -EINVAL, NULL, NULL, 0, NULL},
    {"file:///etc/passwd", -EINVAL, NULL, NULL, 0, NULL},
    {"vigie://h/x", -EINVAL, NULL, NULL, 0, NULL}, /* no port, no default one */
};

START_TEST(test_parts)
{
    struct url_parts u;
    int rc = url_parts(parts[_i].url, &u);

    ck_assert_msg(rc == parts[_i].rc, "\"%s\": rc %d, expected %d", parts[_i].url, rc,
                  parts[_i].rc);
    if (rc != 0) {
        ck_assert_ptr_null(u.scheme);
        ck_assert_ptr_null(u.host);
        ck_assert_ptr_null(u.path);
        url_parts_fini(&u);
        return;
    }
    ck_assert_str_eq(u.scheme, parts[_i].scheme);
    ck_assert_str_eq(u.host, parts[_i].host);
    ck_assert_uint_eq(u.port, parts[_i].port);
    ck_assert_str_eq(u.path, parts[_i].path);
    url_parts_fini(&u);
    ck_assert_ptr_null(u.path);
    url_parts_fini(&u); /* twice is fine */
}
END_TEST

Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("parser");

    tcase_add_test(tc, test_url_check);
    tcase_add_loop_test(tc, test_check, 0, N(checks));
    tcase_add_loop_test(tc, test_host, 0, N(hosts));
    tcase_add_loop_test(tc, test_redact, 0, N(redactions));
    tcase_add_test(tc, test_redact_truncates);
    tcase_add_loop_test(tc, test_parts, 0, N(parts));
    suite_add_tcase(s, tc);
    return s;
}
