/* html — what every page vigie writes shares: the escaper (text and attribute values), and the
 * page frame with its style sheet (readable, WCAG AA contrast, criterion colours as words in
 * badges), used by the dashboard, the criterion report and the demo page. */
#ifndef VIGIE_HTML_H
#define VIGIE_HTML_H

#include <stdio.h>

#include "base/sbuf.h"

/* s with & < > " ' escaped, for text and for attribute values in double or single quotes. */
void html_esc(struct sbuf *b, const char *s);
void html_esc_file(FILE *out, const char *s);

/* "<!DOCTYPE html>" up to "<body>": language `lang` ("fr", "en"), `title` (escaped here), the
 * shared style sheet, then `css` (the page's own rules, or NULL). */
void html_head(struct sbuf *b, const char *lang, const char *title, const char *css);

#endif
