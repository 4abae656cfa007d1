/* client_error.h: filling a restfcgi_error for a request the client got
 * wrong (domain REQUEST; the status is the HTTP answer). */
#ifndef RESTFCGI_CLIENT_ERROR_H
#define RESTFCGI_CLIENT_ERROR_H

#include <stdbool.h>

#include "restfcgi_plugin.h"

/* Sets err to status and the formatted message; returns false so that
 * callers can write "return client_error(...)". */
bool client_error(struct restfcgi_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
