#include <stdarg.h>
#include <stdio.h>

#include "client_error.h"

bool client_error(struct restfcgi_error *err, int status, const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}
