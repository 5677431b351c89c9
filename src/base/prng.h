/* prng — one small pseudo-random generator (xorshift64*, Vigna 2016) for what needs spread, not
 * secrecy: the simulator's draws, retry jitter. Never for anything an attacker may guess at.
 * The state is the caller's (one per owner, no locking): seed it non-zero. */
#ifndef VIGIE_PRNG_H
#define VIGIE_PRNG_H

#include <stdint.h>

static inline uint64_t prng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1), 53 bits. */
static inline double prng_unit(uint64_t *state)
{
    return (double)(prng_next(state) >> 11) / 9007199254740992.0;
}

#endif
