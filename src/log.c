#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level log_level = LOG_INFO;
static int log_prefix = 1;

void log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level log_get_level(void)
{
    return log_level;
}

void log_set_prefix(int on)
{
    log_prefix = on;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    if (level > log_level)
        return;
    n = log_prefix ? snprintf(line, sizeof(line), "<%d>vigie: ", (int)level)
                   : snprintf(line, sizeof(line), "vigie: ");
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so concurrent threads never interleave inside a line. */
    fprintf(stderr, "%s\n", line);
}
