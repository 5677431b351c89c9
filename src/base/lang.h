/* lang — the languages vigie writes its pages and graphs in (vigie.yaml's graphs.lang, the
 * command lines' --lang). One enum for the dashboard, the graphs and the configuration. */
#ifndef VIGIE_LANG_H
#define VIGIE_LANG_H

enum lang { LANG_FR, LANG_EN, LANG__COUNT };

/* "fr", "en", then NULL: the names in the order of the enum (the configuration's choices). */
extern const char *const lang_names[LANG__COUNT + 1];

/* "fr" or "en" → *out, 0; anything else -EINVAL. */
int lang_parse(const char *s, enum lang *out);

/* "fr" or "en" ("fr" for a value out of range). */
const char *lang_name(enum lang l);

#endif
