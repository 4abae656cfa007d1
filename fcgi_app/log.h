/* log.h: one line per event to stderr, never stdout (stdout is a response in CGI mode). */
#ifndef RESTFCGI_LOG_H
#define RESTFCGI_LOG_H

#include <stdarg.h>

#include "restfcgi_plugin.h"

/* Messages above this level are dropped; set once at start-up and on reload. */
void log_set_level(enum restfcgi_log_level level);
enum restfcgi_log_level log_get_level(void);

/* Parses "error|warn|info|debug"; false when the name is unknown. */
bool log_level_parse(const char *name, enum restfcgi_log_level *out);

/* Writes "TIME [pid] LEVEL who: message\n" in one write(2), so lines of
 * concurrent processes and threads never interleave. who may be NULL. */
void log_msg(enum restfcgi_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum restfcgi_log_level level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_error(...) log_msg(RESTFCGI_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(RESTFCGI_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(RESTFCGI_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(RESTFCGI_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
