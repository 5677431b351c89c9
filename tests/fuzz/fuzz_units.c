/* libFuzzer target: the value parsers of the configuration (durations, percentages, sizes,
 * status sets). Invariants: a parse that succeeds gives a value within the documented range, a
 * parse that fails says why; the same input always gives the same answer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    const char *why = NULL;
    struct statusset set, set2;
    uint64_t u, u2;
    double pct;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    why = NULL;
    if (units_duration(s, &u, &why) == 0) {
        if (u > 7305ULL * 86400 * 1000)
            abort();
        if (units_duration(s, &u2, &why) != 0 || u2 != u)
            abort();
    } else if (!why || !*why) {
        abort();
    }
    why = NULL;
    if (units_percent(s, &pct, &why) == 0) {
        if (!(pct >= 0 && pct <= 100))
            abort();
    } else if (!why || !*why) {
        abort();
    }
    why = NULL;
    if (units_size(s, &u, &why) != 0 && (!why || !*why))
        abort();
    why = NULL;
    if (units_statusset(s, &set, &why) == 0) {
        char canon[4096];

        /* its canonical form reads back as the same set */
        statusset_format(&set, canon, sizeof(canon));
        if (units_statusset(canon, &set2, &why) != 0 || memcmp(&set, &set2, sizeof(set)) != 0)
            abort();
    } else if (!why || !*why) {
        abort();
    }
    free(s);
    return 0;
}
