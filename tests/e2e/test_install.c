/* `make install DESTDIR=…` produces a complete tree that works (the installed vigie validates the
 * installed configuration, systemd accepts the unit), and `make uninstall` takes it back. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* The build directory the tests run from (VIGIE_BIN's directory), so `make install` uses the
 * binary just tested instead of building another one. */
static void build_dir(char *buf, size_t len)
{
    const char *bin = getenv("VIGIE_BIN");
    const char *slash = bin ? strrchr(bin, '/') : NULL;

    if (!slash)
        snprintf(buf, len, "build");
    else
        snprintf(buf, len, "%.*s", (int)(slash - bin), bin);
}

static bool exists(const char *root, const char *rel)
{
    char path[1024];
    struct stat st;

    snprintf(path, sizeof(path), "%s%s", root, rel);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *const installed[] = {
    "/usr/bin/vigie",
    "/etc/vigie/vigie.yaml",
    "/etc/vigie/probes.d/impots.yaml",
    "/usr/lib/systemd/system/vigie.service",
    "/usr/lib/sysusers.d/vigie.conf",
    "/usr/lib/tmpfiles.d/vigie.conf",
    "/usr/share/man/man8/vigie.8",
    "/usr/share/man/man5/vigie.yaml.5",
    "/usr/share/vigie/rrdcached.conf",
    "/usr/share/vigie/nginx-vigie.conf",
};

START_TEST(test_install_tree)
{
    const char *src = getenv("VIGIE_SRCDIR");
    char *tmp = test_mkdtemp(), dest[600], bd[512], destarg[700], bdarg[600], *unit, *conf,
         *out = NULL, *err = NULL, path[900], ubin[900];
    char *make_err = NULL;

    ck_assert_msg(src != NULL, "VIGIE_SRCDIR not set");
    build_dir(bd, sizeof(bd));
    snprintf(dest, sizeof(dest), "%s/root", tmp);
    snprintf(destarg, sizeof(destarg), "DESTDIR=%s", dest);
    snprintf(bdarg, sizeof(bdarg), "BUILD=%s", bd);
    ck_assert_msg(test_run("make",
                           (const char *const[]){"-s", "-C", src, bdarg, "PREFIX=/usr", destarg,
                                                 "install", NULL},
                           NULL, &make_err, 120) == 0,
                  "make install failed:\n%s", make_err);
    free(make_err);
    for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++)
        ck_assert_msg(exists(dest, installed[i]), "%s not installed", installed[i]);

    /* the installed configuration points at the state directory and validates */
    snprintf(path, sizeof(path), "%s/etc/vigie/vigie.yaml", dest);
    conf = test_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(conf, "rrd_dir: /var/lib/vigie/rrd"));
    ck_assert_ptr_nonnull(strstr(conf, "state_file: /var/lib/vigie/alerts.json"));
    free(conf);
    snprintf(ubin, sizeof(ubin), "%s/usr/bin/vigie", dest);
    ck_assert_msg(
        test_run(ubin, (const char *const[]){"validate", "-c", path, NULL}, &out, &err, 30) == 0,
        "installed config does not validate: %s", err);
    ck_assert_ptr_nonnull(strstr(out, "177 probes"));
    free(out);
    free(err);
    out = err = NULL;

    /* the unit names the installed binary and configuration */
    snprintf(path, sizeof(path), "%s/usr/lib/systemd/system/vigie.service", dest);
    unit = test_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(unit, "ExecStart=/usr/bin/vigie run -c /etc/vigie/vigie.yaml"));
    ck_assert_ptr_nonnull(strstr(unit, "Type=notify"));

    /* systemd-analyze verify, with ExecStart pointed at the installed binary (the DESTDIR tree
     * is not a root systemd can boot) */
    if (access("/usr/bin/systemd-analyze", X_OK) == 0) {
        char *copy, vpath[900];
        size_t n = strlen(unit) + strlen(ubin) + 64;
        const char *at = strstr(unit, "ExecStart=/usr/bin/vigie");

        copy = malloc(n);
        ck_assert_ptr_nonnull(copy);
        snprintf(copy, n, "%.*sExecStart=%s%s", (int)(at - unit), unit, ubin,
                 at + strlen("ExecStart=/usr/bin/vigie"));
        snprintf(vpath, sizeof(vpath), "%s/vigie.service", tmp);
        free(test_write(tmp, "vigie.service", copy));
        free(copy);
        ck_assert_msg(test_run("systemd-analyze", (const char *const[]){"verify", vpath, NULL},
                               NULL, &err, 60) == 0 &&
                          (!err || !strstr(err, "vigie.service")),
                      "systemd-analyze verify: %s", err);
        free(err);
        err = NULL;
    } else {
        fprintf(stderr, "test_install_tree: systemd-analyze not installed, unit not verified\n");
    }
    free(unit);

    /* uninstall removes the program files, keeps the configuration */
    ck_assert_int_eq(test_run("make",
                              (const char *const[]){"-s", "-C", src, bdarg, "PREFIX=/usr", destarg,
                                                    "uninstall", NULL},
                              NULL, NULL, 120),
                     0);
    for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
        bool config = strncmp(installed[i], "/etc/", 5) == 0;

        ck_assert_msg(exists(dest, installed[i]) == config, "%s %s after uninstall", installed[i],
                      config ? "removed" : "still there");
    }
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

Suite *install_suite(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");

    tcase_set_timeout(tc, test_timeout(180));
    tcase_add_test(tc, test_install_tree);
    suite_add_tcase(s, tc);
    return s;
}
