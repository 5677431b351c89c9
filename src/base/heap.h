/* heap — one binary min-heap, written once and instantiated per element type (like the BSD
 * <sys/tree.h> macros), so that the scheduler's hot path keeps direct comparisons, no callback.
 *
 *   HEAP_DEFINE(pfx, T, LESS, MOVED)
 *
 * defines static functions over an array `T *h` of `n` elements:
 *   pfx_up(h, i)        moves h[i] up to its place (after its key decreased, or a push);
 *   pfx_down(h, n, i)   moves h[i] down to its place (after its key increased, or a pop);
 *   pfx_push(h, &n, x)  h[n] = x, ++n, in place (the caller provides the room);
 *   pfx_pop(h, &n)      removes and returns h[0] (n > 0).
 * LESS(a, b) compares two `const T *`; MOVED(h, i) is called whenever an element lands at index i
 * (to keep a back-index for pfx_up; HEAP_NOTHING when none is needed). */
#ifndef VIGIE_HEAP_H
#define VIGIE_HEAP_H

#include <stddef.h>

#define HEAP_NOTHING(h, i) ((void)(h), (void)(i))

/* clang-format off */
#define HEAP_DEFINE(pfx, T, LESS, MOVED)                                                          \
    __attribute__((unused)) static void pfx##_up(T *h, size_t i)                                 \
    {                                                                                              \
        T x = h[i];                                                                                \
                                                                                                   \
        while (i > 0 && LESS(&x, &h[(i - 1) / 2])) {                                               \
            h[i] = h[(i - 1) / 2];                                                                 \
            MOVED(h, i);                                                                           \
            i = (i - 1) / 2;                                                                       \
        }                                                                                          \
        h[i] = x;                                                                                  \
        MOVED(h, i);                                                                               \
    }                                                                                              \
                                                                                                   \
    __attribute__((unused)) static void pfx##_down(T *h, size_t n, size_t i)                     \
    {                                                                                              \
        T x = h[i];                                                                                \
                                                                                                   \
        for (;;) {                                                                                 \
            size_t l = 2 * i + 1, m = l;                                                           \
                                                                                                   \
            if (l >= n)                                                                            \
                break;                                                                             \
            if (l + 1 < n && LESS(&h[l + 1], &h[l]))                                               \
                m = l + 1;                                                                         \
            if (!LESS(&h[m], &x))                                                                  \
                break;                                                                             \
            h[i] = h[m];                                                                           \
            MOVED(h, i);                                                                           \
            i = m;                                                                                 \
        }                                                                                          \
        h[i] = x;                                                                                  \
        MOVED(h, i);                                                                               \
    }                                                                                              \
                                                                                                   \
    __attribute__((unused)) static void pfx##_push(T *h, size_t *n, T x)                         \
    {                                                                                              \
        h[*n] = x;                                                                                 \
        pfx##_up(h, (*n)++);                                                                       \
    }                                                                                              \
                                                                                                   \
    __attribute__((unused)) static T pfx##_pop(T *h, size_t *n)                                  \
    {                                                                                              \
        T top = h[0];                                                                              \
                                                                                                   \
        if (--*n > 0) {                                                                            \
            h[0] = h[*n];                                                                          \
            pfx##_down(h, *n, 0);                                                                  \
        }                                                                                          \
        return top;                                                                                \
    }
/* clang-format on */

#endif
