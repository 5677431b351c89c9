/* sim_int — what the files of the simulator share and sim.h does not show: simsrv.c owns
 * struct sim, simcfg.c writes the configuration of its services. */
#ifndef VIGIE_SIM_INT_H
#define VIGIE_SIM_INT_H

#include "config/config.h"

struct sim;

/* The configuration the sim was started with (sim_start's cfg). */
const struct config *sim_config(const struct sim *s);

#endif
