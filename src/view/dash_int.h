/* dash_int — what the files of the dashboard share (not for other modules).
 *
 *   view/dash.c      dash.h: the rows, dash_collect, dash_write (which probe pages are due) and
 *                    the daemon's refresh job;
 *   view/dashpage.c  the HTML of index.html and probe/<id>.html, each written atomically;
 *   view/dashtext.c  the fixed text of the pages: the words (fr, en), the style, the script. */
#ifndef VIGIE_DASH_INT_H
#define VIGIE_DASH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/lang.h"
#include "view/dash.h"
#include "view/graph.h"

/* The words of the pages in one language. They are HTML, written as they are: a literal "<" is
 * "&lt;". */
struct words {
    const char *lang;
    bool comma; /* numbers as French writes them: a decimal comma, a no-break space before % */
    const char *title, *intro, *heading, *caption, *generated, *js_off, *skip;
    const char *col[9];
    const char *state[DASH_STATE__COUNT];
    const char *cls[4];                 /* none green yellow red */
    const char *period[GRAPH_NPERIODS]; /* graph_period_name's order */
    const char *win[DASH_NWIN];
    const char *overview, *overview_alt, *groups, *group, *probes, *graphs, *other_periods;
    const char *report;
    const char *filter_group, *filter_state, *all, *worst_first, *shown, *sorted_by;
    const char *legend, *legend_avail, *legend_time, *legend_state, *no_value;
    const char *back, *url, *id, *jdma, *interval, *slow, *last_check, *never;
    const char *summary, *window, *availability, *median, *p95, *checks, *under;
    const char *latency, *avail_graph, *alt_latency, *alt_avail, *errors, *no_errors, *errors_rrd,
        *when, *outcome, *message, *svg, *unreadable;
};

/* The words of `lang` (French unless LANG_EN). */
const struct words *dash_words(enum lang lang);

/* The dashboard's own CSS rules, after the shared sheet of base/html.c. */
extern const char dash_css[];

/* The index's script: sorting by column (buttons added to the headers), filters by group and
 * state, the view kept in the fragment (#group=…&state=…&sort=col&dir=asc|desc). */
extern const char dash_script[];

/* The message of a failure into err (NUL-terminated within errlen); nothing when err is NULL or
 * errlen 0. */
void dash_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes dir/index.html (every row, worst first, the groups, the overview graph when `formats`
 * is not 0), atomically. The rows are read, never changed. Returns 0 or a negative errno, with
 * the message in err (dash_err). */
int dash_write_index(const char *dir, const struct dash_row *rows, size_t n, const struct words *wd,
                     unsigned formats, time_t now, char *err, size_t errlen);

/* Writes dir/probe/<id>.html for row r (dir/probe must exist), atomically. Returns 0 or a
 * negative errno, with the message in err (dash_err). */
int dash_write_probe(const char *dir, const struct dash_row *r, const struct words *wd,
                     unsigned formats, time_t now, char *err, size_t errlen);

#endif
