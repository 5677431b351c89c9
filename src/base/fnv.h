/* fnv — FNV-1a, 64 bits: probe ids to shards (config), to phases (sched) and to writer slots
 * (rrdw), a dashboard page to its signature (dash). The shard and the phase of a probe must not
 * change between versions or machines: these functions must not either. */
#ifndef VIGIE_FNV_H
#define VIGIE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

/* h, continued over the n bytes at p. */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;

    while (n--)
        h = (h ^ *c++) * FNV_PRIME;
    return h;
}

/* h, continued over the string s (without its NUL). */
static inline uint64_t fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h;
}

#endif
