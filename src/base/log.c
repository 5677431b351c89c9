#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static enum log_level log_level = VLOG_INFO;
static int log_prefix = 1;
static int log_journal; /* stderr is the journal: native protocol */

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

int log_open(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    /* systemd.exec(5): JOURNAL_STREAM is "device:inode" of the stream it connected; stderr is
     * the journal only if it is still that stream (not redirected since). */
    log_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
                  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
    return log_journal;
}

/* snprintf that returns what it wrote (truncated or not), for iovec lengths. */
static size_t field(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t field(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void log_emit(enum log_level level, const char *probe, const char *group, const char *fmt,
                     va_list ap) __attribute__((format(printf, 4, 0)));

static void log_emit(enum log_level level, const char *probe, const char *group, const char *fmt,
                     va_list ap)
{
    static char ident[] = "SYSLOG_IDENTIFIER=vigie";
    char line[2048];
    int n;

    if (log_journal) {
        char msg[2100], prio[16], pf[600], gf[600];
        struct iovec iov[5];
        int k = 0;

        vsnprintf(line, sizeof(line), fmt, ap);
        iov[k].iov_base = msg;
        iov[k++].iov_len = field(msg, sizeof(msg), "MESSAGE=%s", line);
        iov[k].iov_base = prio;
        iov[k++].iov_len = field(prio, sizeof(prio), "PRIORITY=%d", (int)level);
        iov[k].iov_base = ident;
        iov[k++].iov_len = sizeof(ident) - 1;
        if (probe) {
            iov[k].iov_base = pf;
            iov[k++].iov_len = field(pf, sizeof(pf), "VIGIE_PROBE=%s", probe);
        }
        if (group) {
            iov[k].iov_base = gf;
            iov[k++].iov_len = field(gf, sizeof(gf), "VIGIE_GROUP=%s", group);
        }
        if (sd_journal_sendv(iov, k) == 0)
            return;
        /* the journal went away: stderr still says it */
        fprintf(stderr, "<%d>vigie: %s\n", (int)level, line);
        return;
    }
    n = log_prefix ? snprintf(line, sizeof(line), "<%d>vigie: ", (int)level)
                   : snprintf(line, sizeof(line), "vigie: ");
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* One write per line so concurrent threads never interleave inside a line. */
    fprintf(stderr, "%s\n", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_emit(level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_probe(enum log_level level, const char *probe, const char *group, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_emit(level, probe, group, fmt, ap);
    va_end(ap);
}
