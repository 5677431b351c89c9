/* log — the process logger (the one piece of global state besides the loop).
 *
 * Lines go to stderr as "<N>vigie: message" where N is the syslog priority, so journald keeps
 * levels when vigie runs under systemd. When stderr is the journal itself (systemd sets
 * JOURNAL_STREAM to its device and inode), every message goes through journald's native protocol
 * instead (sd_journal_sendv), with PRIORITY= and, for messages about one probe, the structured
 * fields VIGIE_PROBE= and VIGIE_GROUP= (`journalctl -u vigie VIGIE_GROUP=DGFiP`). The level is
 * checked before formatting. */
#ifndef VIGIE_LOG_H
#define VIGIE_LOG_H

/* VLOG_*, not LOG_*: <syslog.h> defines VLOG_ERR and its kin as macros with the same values, and
 * a file that includes both would not compile. The values are syslog priorities. */
enum log_level { VLOG_ERR = 3, VLOG_WARNING = 4, VLOG_NOTICE = 5, VLOG_INFO = 6, VLOG_DEBUG = 7 };

/* Messages above `level` are dropped. Default VLOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Set whether the "<N>" priority prefix is written (on by default). */
void log_set_prefix(int on);

/* Decides once, before any thread starts, whether stderr is the journal (JOURNAL_STREAM).
 * Returns 1 when messages go through the native protocol. */
int log_open(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A message about one probe: its id and group (either may be NULL) become VIGIE_PROBE= and
 * VIGIE_GROUP= in the journal; on plain stderr the line is the same as log_msg's. */
void log_probe(enum log_level level, const char *probe, const char *group, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(VLOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(VLOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(VLOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(VLOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= VLOG_DEBUG)                                                         \
            log_msg(VLOG_DEBUG, __VA_ARGS__);                                                      \
    } while (0)

#endif
