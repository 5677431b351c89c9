/* diag — a list of configuration errors, each tied to file:line:col.
 *
 * Loaders collect every problem they find instead of stopping at the first one, then fail if the
 * list is not empty. Lines and columns are 1-based; 0 means "the whole file". */
#ifndef VIGIE_DIAG_H
#define VIGIE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag_entry {
    char *file;
    unsigned line;
    unsigned col;
    char *msg;
};

struct diag {
    struct diag_entry *v;
    size_t n;
    size_t cap;
};

void diag_init(struct diag *d);
void diag_fini(struct diag *d);

/* Appends one error. Past DIAG_MAX entries the extra ones are counted but not stored. */
void diag_add(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prints "file:line:col: message" (or "file: message" when line is 0), one per line. */
void diag_print(const struct diag *d, FILE *out);

#define DIAG_MAX 1000

#endif
