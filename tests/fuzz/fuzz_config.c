/* libFuzzer target: the configuration loader (ydoc + config) on arbitrary bytes.
 *
 * The first input byte chooses which file the rest becomes: even, vigie.yaml (with a fixed,
 * valid probes.d next to it); odd, a probes.d file (with a fixed vigie.yaml). Invariants checked
 * beyond "no crash, no leak, no undefined behaviour":
 *   - a load that fails reports at least one error, and every error inside a file we wrote
 *     names a line >= 1 and a column >= 1 (whole-file errors name line 0 and say so);
 *   - a load that succeeds gives the same configuration when loaded again (same probes, same
 *     settings): loading is deterministic and does not depend on leftover state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "base/diag.h"

static char dir[256], yaml[300], probes[300];

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static void setup(void)
{
    static const char vy[] = "concurrency: 10\nrrd_dir: rrd\n";
    static const char pf[] = "group: G\nprobes:\n  - {id: a, url: \"https://example.org/\"}\n";
    char pd[300];

    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "%s/vigie-fuzz-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(pd, sizeof(pd), "%s/probes.d", dir);
    mkdir(pd, 0700);
    snprintf(yaml, sizeof(yaml), "%s/vigie.yaml", dir);
    snprintf(probes, sizeof(probes), "%s/probes.d/f.yaml", dir);
    write_file(yaml, (const uint8_t *)vy, sizeof(vy) - 1);
    write_file(probes, (const uint8_t *)pf, sizeof(pf) - 1);
}

static void same_config(const struct config *a, const struct config *b)
{
    if (a->nprobes != b->nprobes || a->concurrency != b->concurrency ||
        a->per_host != b->per_host || a->nroutes != b->nroutes || a->nmaint != b->nmaint ||
        strcmp(a->rrd_dir, b->rrd_dir) != 0)
        abort();
    for (size_t i = 0; i < a->nprobes; i++) {
        const struct probe *p = &a->probes[i], *q = &b->probes[i];

        if (strcmp(p->id, q->id) != 0 || strcmp(p->url, q->url) != 0 ||
            strcmp(p->name, q->name) != 0 || p->interval_ms != q->interval_ms ||
            p->timeout_ms != q->timeout_ms || p->slow_ms != q->slow_ms ||
            p->nheaders != q->nheaders || p->alert_confirm != q->alert_confirm)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char vy[] = "concurrency: 10\nrrd_dir: rrd\n";
    static const char pf[] = "group: G\nprobes:\n  - {id: a, url: \"https://example.org/\"}\n";
    struct config *c1 = NULL, *c2 = NULL;
    struct diag d1, d2;
    bool target_yaml;
    int rc1, rc2;

    if (size < 1)
        return 0;
    setup();
    target_yaml = (data[0] & 1) == 0;
    write_file(yaml, target_yaml ? data + 1 : (const uint8_t *)vy,
               target_yaml ? size - 1 : sizeof(vy) - 1);
    write_file(probes, target_yaml ? (const uint8_t *)pf : data + 1,
               target_yaml ? sizeof(pf) - 1 : size - 1);
    diag_init(&d1);
    diag_init(&d2);
    rc1 = config_load(yaml, &c1, &d1);
    if (rc1 < 0) {
        if (d1.n == 0 || c1)
            abort();
        for (size_t i = 0; i < d1.n; i++) {
            const struct diag_entry *e = &d1.v[i];
            bool ours = strcmp(e->file, target_yaml ? yaml : probes) == 0;

            /* positions inside the fuzzed file are 1-based; line 0 is a whole-file error */
            if (ours && e->line > 0 && e->col == 0)
                abort();
        }
    } else {
        rc2 = config_load(yaml, &c2, &d2);
        if (rc2 < 0 || d1.n != 0 || d2.n != 0)
            abort();
        same_config(c1, c2);
    }
    config_free(c1);
    config_free(c2);
    diag_fini(&d1);
    diag_fini(&d2);
    return 0;
}
