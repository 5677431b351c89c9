/* simcfg — the configuration `vigie simulate` writes for its services (sim_write_config):
 * dir/probes.d/, the source's probes pointed at 127.0.0.1, and dir/vigie.yaml, the source's
 * settings rewritten event by event with libyaml, its paths pointed into dir. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "base/fsx.h"
#include "base/lang.h"
#include "net/url.h"
#include "sim/sim.h"
#include "sim/sim_int.h"

/* s escaped for a double-quoted YAML scalar. */
static void yesc(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

/* A double-quoted YAML scalar. */
static void yq(FILE *f, const char *s)
{
    fputc('"', f);
    yesc(f, s);
    fputc('"', f);
}

static bool key_in(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(k, *set) == 0)
            return true;
    return false;
}

/* Copies event e to the emitter (which takes it). */
static int emit(yaml_emitter_t *em, yaml_event_t *e)
{
    return yaml_emitter_emit(em, e) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *em, const char *v)
{
    yaml_event_t e;

    if (!yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)(uintptr_t)v, (int)strlen(v),
                                      1, 1, YAML_ANY_SCALAR_STYLE))
        return -ENOMEM;
    return emit(em, &e);
}

/* Emits the pairs of the top-level mapping of the YAML text `extra` (its stream, document and
 * mapping events left out). */
static int emit_extra(yaml_emitter_t *em, const char *extra)
{
    yaml_parser_t p;
    yaml_event_t e;
    int depth = 0, rc = 0;
    bool done = false;

    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)extra, strlen(extra));
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &e)) {
            rc = -EINVAL;
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            yaml_event_delete(&e);
            continue;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth++ == 0) {
                yaml_event_delete(&e);
                continue;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (--depth == 0) {
                yaml_event_delete(&e);
                continue;
            }
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth > 0)
                break;
            yaml_event_delete(&e);
            continue;
        default:
            yaml_event_delete(&e);
            continue;
        }
        rc = emit(em, &e);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Rewrites the source vigie.yaml to out, event by event (its comments are lost): top-level keys
 * in `drop` are left out, `extra`'s pairs are added at the end, alerting's state_file and
 * spool_dir are pointed into the output directory, and relative secret and CA files made
 * absolute against the source's directory (srcdir). */
static int yaml_rewrite(const char *src, const char *srcdir, FILE *out, const char *const *drop,
                        const char *extra, char *err, size_t errlen)
{
    static const char *const rel_keys[] = {"url_file", "password_file", "token_file", "ca_file",
                                           NULL};
    yaml_parser_t p;
    yaml_emitter_t em;
    yaml_event_t e;
    FILE *in = fopen(src, "rb");
    int depth = 0, skip = 0, rc = 0;
    bool key_next[64] = {false}, done = false, is_map[64] = {false}, skip_value = false;
    char key[64] = "", path[4096];
    const char *cred = getenv("CREDENTIALS_DIRECTORY");

    if (!in) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -errno;
    }
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, in);
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    while (!done && rc == 0) {
        bool was_key;

        if (!yaml_parser_parse(&p, &e)) {
            snprintf(err, errlen, "%s:%zu:%zu: %s", src, p.problem_mark.line + 1,
                     p.problem_mark.column + 1, p.problem ? p.problem : "YAML error");
            rc = -EINVAL;
            break;
        }
        if (e.type == YAML_STREAM_END_EVENT)
            done = true;
        if (skip_value || skip > 0) {
            /* A dropped key's value: a scalar, or everything down to the end of its nesting. */
            bool start = e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT;
            bool end = e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT;

            if (skip_value)
                skip = start ? 1 : 0;
            else
                skip += start ? 1 : end ? -1 : 0;
            skip_value = false;
            if (skip == 0)
                key_next[depth] = true;
            yaml_event_delete(&e);
            continue;
        }
        was_key = depth >= 1 && is_map[depth] && key_next[depth];
        if (depth >= 1 && is_map[depth] &&
            (e.type == YAML_SCALAR_EVENT || e.type == YAML_MAPPING_START_EVENT ||
             e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_ALIAS_EVENT))
            key_next[depth] = !key_next[depth];
        if (was_key && e.type == YAML_SCALAR_EVENT) {
            snprintf(key, sizeof(key), "%s", (const char *)e.data.scalar.value);
            if (depth == 1 && key_in(key, drop)) {
                skip_value = true; /* and the value that follows */
                yaml_event_delete(&e);
                continue;
            }
        } else if (!was_key && e.type == YAML_SCALAR_EVENT && depth >= 1 && is_map[depth]) {
            const char *v = (const char *)e.data.scalar.value;
            const char *nv = NULL;

            if (strcmp(key, "state_file") == 0)
                nv = "state/alerts.json";
            else if (strcmp(key, "spool_dir") == 0)
                nv = "state/spool";
            else if (key_in(key, rel_keys) && v[0] != '/' && !(cred && *cred)) {
                int n = snprintf(path, sizeof(path), "%s/%s", srcdir, v);

                nv = n > 0 && (size_t)n < sizeof(path) ? path : NULL;
            }
            if (nv) {
                yaml_event_delete(&e);
                rc = emit_scalar(&em, nv);
                continue;
            }
        }
        if (e.type == YAML_MAPPING_END_EVENT && depth == 1 && extra) {
            rc = emit_extra(&em, extra);
            if (rc != 0) {
                snprintf(err, errlen, "internal: generated settings do not parse");
                yaml_event_delete(&e);
                break;
            }
        }
        if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT) {
            if (++depth >= 64) {
                snprintf(err, errlen, "%s: nested too deeply", src);
                rc = -EINVAL;
                yaml_event_delete(&e);
                break;
            }
            is_map[depth] = e.type == YAML_MAPPING_START_EVENT;
            key_next[depth] = true;
        } else if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            depth--;
        }
        rc = emit(&em, &e);
        if (rc != 0)
            snprintf(err, errlen, "cannot write the configuration: %s",
                     em.problem ? em.problem : "YAML emitter error");
    }
    yaml_emitter_delete(&em);
    yaml_parser_delete(&p);
    fclose(in);
    return rc;
}

static void write_ms(FILE *f, const char *key, uint64_t ms)
{
    fprintf(f, "    %s: %llums\n", key, (unsigned long long)ms);
}

/* dir/probes.d/<file>: one per source file, its probes in the source's order by id. */
static int write_probes(const struct sim *s, const char *dir, const struct sim_write_opts *w,
                        char *err, size_t errlen)
{
    const struct config *cfg = sim_config(s);
    bool *done = calloc(cfg->nprobes ? cfg->nprobes : 1, sizeof(*done));
    char path[4096];
    int rc = 0;

    if (!done)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprobes && rc == 0; i++) {
        const char *file = cfg->probes[i].file, *base;
        FILE *f;

        if (done[i])
            continue;
        base = file ? strrchr(file, '/') : NULL;
        base = base ? base + 1 : file ? file : "probes.yaml";
        snprintf(path, sizeof(path), "%s/probes.d/%s", dir, base);
        f = fopen(path, "w");
        if (!f) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            break;
        }
        fprintf(f,
                "# Generated by `vigie simulate` from %s: the same probes, on the simulated\n"
                "# services of 127.0.0.1 (docs/SIMULATE.md).\ngroup: ",
                file ? file : "the source configuration");
        yq(f, cfg->probes[i].group);
        fputs("\nprobes:\n", f);
        for (size_t j = i; j < cfg->nprobes; j++) {
            const struct probe *p = &cfg->probes[j];
            uint64_t interval = w->interval_ms ? w->interval_ms : p->interval_ms;
            uint64_t timeout = p->timeout_ms, connect = p->connect_timeout_ms;
            struct url_parts u;

            if (done[j] || !(p->file == file || (p->file && file && strcmp(p->file, file) == 0)))
                continue;
            done[j] = true;
            rc = url_parts(p->url, &u);
            if (rc != 0) {
                snprintf(err, errlen, "%s: %s: cannot read its URL: %s", path, p->id,
                         strerror(-rc));
                break;
            }
            if (w->interval_ms) {
                /* An answer must come within the interval: 80 % of it at most. */
                timeout = timeout < interval * 4 / 5 ? timeout : interval * 4 / 5;
                timeout = timeout < 100 ? 100 : timeout;
            }
            connect = connect < timeout ? connect : timeout;
            fprintf(f, "  - id: %s\n    name: ", p->id);
            yq(f, p->name);
            fprintf(f, "\n    url: \"http://127.0.0.1:%u", sim_port(s, j));
            yesc(f, u.path);
            url_parts_fini(&u);
            fputs("\"\n", f);
            if (p->njdma) {
                fputs("    jdma: [", f);
                for (size_t k = 0; k < p->njdma; k++)
                    fprintf(f, "%s%ld", k ? ", " : "", p->jdma[k]);
                fputs("]\n", f);
            }
            if (p->ntags) {
                fputs("    tags: [", f);
                for (size_t k = 0; k < p->ntags; k++) {
                    fputs(k ? ", " : "", f);
                    yq(f, p->tags[k]);
                }
                fputs("]\n", f);
            }
            if (p->method && strcmp(p->method, "HEAD") == 0)
                fputs("    method: HEAD\n", f);
            write_ms(f, "interval", interval);
            write_ms(f, "timeout", timeout);
            write_ms(f, "connect_timeout", connect);
            write_ms(f, "slow", p->slow_ms);
            if (p->body) {
                fputs("    expect:\n      body: ", f);
                yq(f, p->body);
                fputc('\n', f);
            }
            fprintf(f,
                    "    alert:\n      enabled: %s\n      confirm: %ld\n      recover: %ld\n"
                    "      slow_window: %ld\n",
                    p->alert_enabled ? "true" : "false", p->alert_confirm, p->alert_recover,
                    p->slow_window);
        }
        if ((ferror(f) | (fclose(f) != 0)) && rc == 0) {
            rc = -EIO;
            snprintf(err, errlen, "%s: write error", path);
        }
    }
    free(done);
    return rc;
}

int sim_write_config(const struct sim *s, const char *dir, const struct sim_write_opts *w,
                     char *err, size_t errlen)
{
    static const char *const drop_base[] = {"probes_dir", "rrd_dir", "graphs_dir", "per_host",
                                            "rrdcached",  "node",    NULL};
    const struct config *cfg = sim_config(s);
    const char *drop[16];
    size_t nd = 0;
    char path[4096], srcdir[4096], *extra = NULL;
    size_t extra_len = 0;
    FILE *x, *f;
    int rc;

    err[0] = '\0';
    for (const char *const *k = drop_base; *k; k++)
        drop[nd++] = *k;
    snprintf(path, sizeof(path), "%s/probes.d", dir);
    if ((rc = fsx_mkdir_p(path, 0755)) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    rc = write_probes(s, dir, w, err, errlen);
    if (rc != 0)
        return rc;

    x = open_memstream(&extra, &extra_len);
    if (!x)
        return -ENOMEM;
    fprintf(x, "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\nper_host: %ld\n",
            cfg->concurrency);
    if (w->demo) {
        drop[nd++] = "rrd_flush";
        drop[nd++] = "rrd_retention";
        drop[nd++] = "graphs";
        fprintf(x,
                "rrd_flush: 2s\n"
                "rrd_retention: {full: 1d, medium: 2d, hourly: 3d, daily: 7d}\n"
                "graphs: {enabled: true, interval: %llums, formats: [png], lang: %s, "
                "width: %ld, height: %ld}\n",
                (unsigned long long)(w->graphs_ms ? w->graphs_ms : 10000),
                lang_name(cfg->graphs.lang), cfg->graphs.width, cfg->graphs.height);
    }
    if (w->local_receiver) {
        drop[nd++] = "receivers";
        drop[nd++] = "alerting";
        /* Pages (critical: down) and warnings (slow, criterion, TLS) apart, as most teams route
         * them; both reach the simulator's sink, each notification naming its receiver. */
        fprintf(x,
                "receivers:\n"
                "  - {name: oncall, type: webhook, url: \"http://127.0.0.1:%u/notify\", "
                "timeout: 5s}\n"
                "  - {name: team-chat, type: webhook, url: \"http://127.0.0.1:%u/notify\", "
                "timeout: 5s}\n"
                "alerting:\n"
                "  group_wait: %llums\n"
                "  routes:\n"
                "    - {name: oncall, match: {severity: critical}, receivers: [oncall], "
                "repeat: 0s}\n"
                "    - {name: team-chat, match: {severity: warning}, receivers: [team-chat], "
                "repeat: 0s}\n",
                sim_notify_port(s), sim_notify_port(s),
                (unsigned long long)(w->group_wait_ms ? w->group_wait_ms : 5000));
    }
    drop[nd] = NULL;
    if (fclose(x) != 0) {
        free(extra);
        return -ENOMEM;
    }

    snprintf(path, sizeof(path), "%s/vigie.yaml", dir);
    f = fopen(path, "w");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(extra);
        return rc;
    }
    fprintf(f,
            "# Generated by `vigie simulate` from %s (docs/SIMULATE.md): its settings,\n"
            "# with the paths pointed here%s.\n",
            w->source ? w->source : "the built-in settings",
            w->local_receiver ? " and alerts sent to the simulator's own receiver"
                              : " (alerting and receivers kept)");
    if (w->source) {
        const char *slash = strrchr(w->source, '/');

        if (!slash)
            snprintf(srcdir, sizeof(srcdir), ".");
        else
            snprintf(srcdir, sizeof(srcdir), "%.*s", (int)(slash - w->source), w->source);
        if (srcdir[0] != '/') {
            char cwd[2048];

            int n =
                getcwd(cwd, sizeof(cwd)) ? snprintf(path, sizeof(path), "%s/%s", cwd, srcdir) : -1;

            if (n > 0 && (size_t)n < sizeof(srcdir))
                memcpy(srcdir, path, (size_t)n + 1);
        }
        fflush(f);
        rc = yaml_rewrite(w->source, srcdir, f, drop, extra, err, errlen);
    } else {
        fputs(extra, f);
        rc = 0;
    }
    if ((ferror(f) | (fclose(f) != 0)) && rc == 0) {
        rc = -EIO;
        snprintf(err, errlen, "%s/vigie.yaml: write error", dir);
    }
    free(extra);
    return rc;
}
