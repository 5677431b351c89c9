/* html — the escaper and the page frame. See html.h. */
#include "base/html.h"

#include <string.h>

/* The replacement of c, or NULL when c stands for itself. */
static const char *entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

void html_esc(struct sbuf *b, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *e = entity(*s);

        if (!e)
            continue;
        sbuf_put(b, run, (size_t)(s - run));
        sbuf_puts(b, e);
        run = s + 1;
    }
    sbuf_put(b, run, (size_t)(s - run));
}

void html_esc_file(FILE *out, const char *s)
{
    const char *run = s;

    for (; s && *s; s++) {
        const char *e = entity(*s);

        if (!e)
            continue;
        fwrite(run, 1, (size_t)(s - run), out);
        fputs(e, out);
        run = s + 1;
    }
    if (s)
        fwrite(run, 1, (size_t)(s - run), out);
}

/* Contrast: every text colour below has a ratio of at least 4.5:1 (WCAG AA) against its
 * background; badges carry a word, and a border so that they stay apart in forced colours. */
static const char css[] =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0 auto;padding:1rem 1.5rem;max-width:90rem;color:#1a1a1a;background:#fff;"
    "line-height:1.4}"
    "h1{font-size:1.5rem;margin:.2rem 0 .5rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}"
    "h3{font-size:1rem;margin:1rem 0 .3rem}"
    "a{color:#0645ad}a:focus,button:focus,select:focus{outline:3px solid #1d4ed8;"
    "outline-offset:2px}"
    ".meta{color:#444;font-size:.9rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}.scroll{overflow-x:auto}"
    "caption{text-align:left;font-weight:bold;padding:.4rem 0}"
    "th,td{padding:.3rem .5rem;border-bottom:1px solid #d0d0d0;text-align:left;"
    "vertical-align:top}"
    "thead th{background:#f0f0f0;border-bottom:2px solid #666;white-space:nowrap}"
    "td.num{white-space:nowrap;text-align:right}"
    ".badge{display:inline-block;padding:0 .3em;border:1px solid;border-radius:.25em;"
    "font-size:.75rem}"
    ".q-green .badge,.s-ok{background:#dcf3e2;color:#0b5a1f;border-color:#0b5a1f}"
    ".q-yellow .badge,.s-slow{background:#fff0b3;color:#5c4200;border-color:#5c4200}"
    ".q-red .badge,.s-down{background:#fde0e0;color:#8f0d0d;border-color:#8f0d0d}"
    ".s-unchecked,.s-nodata{background:#ececec;color:#333;border-color:#555}"
    ".q-none{color:#555}"
    "figure{margin:0 0 1rem}img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{font-size:.85rem;color:#444}"
    "pre{background:#f6f6f6;padding:.6em;overflow-x:auto}";

void html_head(struct sbuf *b, const char *lang, const char *title, const char *page_css)
{
    sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n", lang);
    sbuf_puts(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta name=\"generator\" content=\"vigie\">\n<title>");
    html_esc(b, title);
    sbuf_puts(b, "</title>\n<style>");
    sbuf_puts(b, css);
    if (page_css)
        sbuf_puts(b, page_css);
    sbuf_puts(b, "</style>\n</head>\n<body>\n");
}
