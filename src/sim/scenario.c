/* scenario — the profiles and the lockdown scenario of `vigie simulate` (see sim.h and
 * docs/SIMULATE.md): which wave a probe takes part in, which figures of the observatory's export
 * are its service's, and the condition of a service at a moment of the timeline. Pure: static
 * tables, no loop, no clock. */
#include <stdbool.h>
#include <string.h>

#include "base/container.h"
#include "sim/sim.h"

const unsigned sim_bounds_ms[9] = {125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000};

/* The timeline (fractions of the scenario), modelled on March 2020 (docs/SIMULATE.md, sources in
 * the project's background notes):
 * - Monday 16 March, schools closed: the school services (ENT, Pronote, CNED « Ma classe à la
 *   maison ») took 3× their usual load from 08:00, saturated by 10:00 (« tout a pété »: one ENT
 *   got 15,000 simultaneous connections for a capacity of 5,000), went down for part of the day,
 *   and recovered slowly until Wednesday, capacity raised and time slots imposed;
 * - from 25 March the short-time work service (activitepartielle.emploi.gouv.fr: 50 → 15,000
 *   simultaneous connections, requests tripled in a week, "en maintenance" for two weeks) and
 *   on 31 March the solidarity fund on impots.gouv.fr: the employment and tax services. */
const struct sim_phase sim_phases[] = {
    {"schools: rush", SIM_SCHOOL, 0.12, 0.08, 1.0, 5.0, 0.8, 2.0, false},
    {"schools: saturated", SIM_SCHOOL, 0.20, 0.16, 5.0, 20.0, 3.0, 4.0, false},
    {"schools: down", SIM_SCHOOL, 0.24, 0.06, 20.0, 20.0, 4.0, 4.0, true},
    {"schools: slow recovery", SIM_SCHOOL, 0.36, 0.26, 10.0, 1.5, 2.0, 0.8, false},
    {"employment: short-time work rush", SIM_EMPLOYMENT, 0.42, 0.20, 3.0, 8.0, 1.5, 3.0, false},
    {"tax: solidarity fund", SIM_TAX, 0.50, 0.20, 4.0, 6.0, 2.0, 2.5, false},
    {"second wave: slow recovery", SIM_EMPLOYMENT, 0.62, 0.20, 6.0, 1.0, 1.5, 0.8, false},
    {"second wave: slow recovery", SIM_TAX, 0.70, 0.14, 5.0, 1.0, 1.5, 0.8, false},
};
const size_t sim_nphases = ARRAY_SIZE(sim_phases);

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

enum sim_wave sim_wave_of(const struct probe *p)
{
    const char *f = p->file ? strrchr(p->file, '/') : NULL;

    f = f ? f + 1 : p->file;
    if (f) {
        if (strcmp(f, "education.yaml") == 0)
            return SIM_SCHOOL;
        if (strcmp(f, "emploi.yaml") == 0)
            return SIM_EMPLOYMENT;
        if (strcmp(f, "impots.yaml") == 0 || strcmp(f, "economie.yaml") == 0)
            return SIM_TAX;
    }
    if (has(p->group, "ducation nationale"))
        return SIM_SCHOOL;
    if (has(p->group, "mploi"))
        return SIM_EMPLOYMENT;
    if (has(p->group, "DGFiP") || has(p->group, "impots") || has(p->group, "conomie"))
        return SIM_TAX;
    return SIM_CALM;
}

void sim_scenario_at(enum sim_wave wave, double frac, struct sim_state *st)
{
    *st = (struct sim_state){.phase = "calm", .latency = 1.0, .load = 0.0, .closed = false};
    if (wave == SIM_CALM || frac < 0 || frac >= 1)
        return;
    for (size_t k = 0; k < sim_nphases; k++) {
        const struct sim_phase *ph = &sim_phases[k];
        double t;

        if (ph->wave != wave || frac < ph->start || frac >= ph->start + ph->dur)
            continue;
        t = (frac - ph->start) / ph->dur;
        st->phase = ph->name;
        st->latency = ph->lat_from + (ph->lat_to - ph->lat_from) * t;
        st->load = ph->load_from + (ph->load_to - ph->load_from) * t;
        st->closed = st->closed || ph->closed;
    }
}

const struct sim_profile *sim_profile_of(const struct probe *p, const struct sim_profile *table,
                                         size_t n)
{
    for (size_t j = 0; j < p->njdma; j++)
        for (size_t k = 0; k < n; k++)
            if (table[k].jdma == p->jdma[j])
                return &table[k];
    for (size_t k = 0; k < n; k++)
        if (strcmp(table[k].url, p->url) == 0)
            return &table[k];
    return NULL;
}
