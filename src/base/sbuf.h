/* sbuf — a growing string buffer for building documents (pages, notifications) in memory.
 *
 * Value type: zero-initialise it (`struct sbuf b = {0};`), append, then take b.p (NUL-terminated,
 * b.len bytes, owned by the caller, free()) unless b.oom says an allocation failed (then b.p
 * holds what fitted so far and must still be freed). Appends after a failure do nothing. */
#ifndef VIGIE_SBUF_H
#define VIGIE_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
