/* diag — a growable list of file:line:col errors.
 *
 * diag.h has no field for the number of dropped entries, so it is kept in `cap`: the array never
 * grows past DIAG_MAX slots, and once it holds DIAG_MAX entries `cap` is no longer needed for
 * growth, so every entry dropped after that adds one to it. Hence, when n == DIAG_MAX, the number
 * of dropped entries is cap - DIAG_MAX. Nothing outside this file reads cap. */
#include "base/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(struct diag *d)
{
    d->v = NULL;
    d->n = 0;
    d->cap = 0;
}

void diag_fini(struct diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    diag_init(d);
}

static size_t diag_dropped(const struct diag *d)
{
    return d->n == DIAG_MAX && d->cap > DIAG_MAX ? d->cap - DIAG_MAX : 0;
}

/* Makes room for one more entry; returns 0 or -ENOMEM. */
static int diag_grow(struct diag *d)
{
    struct diag_entry *v;
    size_t cap;

    if (d->n < d->cap)
        return 0;
    cap = d->cap ? d->cap * 2 : 8;
    if (cap > DIAG_MAX)
        cap = DIAG_MAX;
    v = realloc(d->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    d->v = v;
    d->cap = cap;
    return 0;
}

void diag_add(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
    struct diag_entry *e;
    va_list ap;
    char *msg;
    int len;

    if (d->n >= DIAG_MAX) {
        d->cap++; /* counted, not stored: see the comment at the top */
        return;
    }
    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    msg = malloc((size_t)len + 1);
    if (!msg)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    if (diag_grow(d) < 0) {
        free(msg);
        return;
    }
    e = &d->v[d->n];
    e->file = strdup(file ? file : "(config)");
    if (!e->file) {
        free(msg);
        return;
    }
    e->line = line;
    e->col = col;
    e->msg = msg;
    d->n++;
}

void diag_print(const struct diag *d, FILE *out)
{
    size_t dropped = diag_dropped(d);

    for (size_t i = 0; i < d->n; i++) {
        const struct diag_entry *e = &d->v[i];

        if (e->line == 0)
            fprintf(out, "%s: %s\n", e->file, e->msg);
        else if (e->col == 0)
            fprintf(out, "%s:%u: %s\n", e->file, e->line, e->msg);
        else
            fprintf(out, "%s:%u:%u: %s\n", e->file, e->line, e->col, e->msg);
    }
    if (dropped > 0)
        fprintf(out, "... and %zu more error%s\n", dropped, dropped == 1 ? "" : "s");
}
