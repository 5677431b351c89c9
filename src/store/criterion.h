/* criterion — the rules of the observatory's criterion « disponibilité et rapidité d'affichage »
 * (docs/REPORT.md, ../shared/background/observatoire.md): the classes of an availability and of a
 * load time, the 2019 points, and the one way every output writes an availability as a
 * percentage. The dashboard, the graphs, the reports and the alerts all rate and print through
 * here, so that one figure reads the same everywhere.
 *
 * Pure functions, no state: safe on any thread. */
#ifndef VIGIE_CRITERION_H
#define VIGIE_CRITERION_H

#include <stddef.h>

/* The criterion's colours (the 2019 rules call yellow "orange"). */
enum criterion_class { CRITERION_NONE, CRITERION_GREEN, CRITERION_YELLOW, CRITERION_RED };

/* The 2023 rules. Availability (0..1): green from 99.9 %, yellow from 98.5 %, else red. Load time
 * (ms): green under 400 ms, yellow under 800 ms, else red. NAN → CRITERION_NONE. The edges allow
 * for floating point: 999 successes of 1000 are 99.9 % (green), a mean of 400 ms read back from
 * summed microseconds is 400 ms (yellow). */
enum criterion_class criterion_avail_class(double availability);
enum criterion_class criterion_time_class(double ms);

/* "none", "green", "yellow", "red". */
const char *criterion_class_name(enum criterion_class c);

/* The 2019 rules (DemarchesClass.xml), with the same allowance at the edges: availability
 * points: ≤ 95 % −6, ≤ 98 % 0, ≤ 99 % 2, ≤ 99.5 % 3, ≤ 99.9 % 4, above 6; response points:
 * < 200 ms 4, < 400 ms 3, < 600 ms 2, < 800 ms 1, < 1000 ms 0, else −4; the score's colour:
 * ≥ 8 green, 5..7 yellow (orange), ≤ 4 red. */
int criterion_avail_points_2019(double availability);
int criterion_time_points_2019(double ms);
enum criterion_class criterion_score_class_2019(int score);

/* Writes availability `a` (0..1) as a percentage with `decimals` decimals and no sign, cut
 * rather than rounded so that the figure never looks better than its class (0.99899 → "99.89"
 * with 2 decimals, not "99.90"), but exact fractions read exactly (999/1000 → "99.900"). NAN →
 * "". Returns buf. */
char *criterion_pct(char *buf, size_t len, double a, int decimals);

#endif
