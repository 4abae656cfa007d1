/* mg_error.c: driver and server errors as the store ABI's HTTP statuses. */
#include <stdarg.h>
#include <stdio.h>

#include "mg.h"

bool mg_error(struct restfcgi_error *err, int code, const char *fmt, ...)
{
    err->domain = code >= 500 ? RESTFCGI_ERR_STORE : RESTFCGI_ERR_REQUEST;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

int64_t mg_reply_count(const bson_t *reply, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
}

bool mg_view(struct restfcgi_bson v, bson_t *out)
{
    return v.len > 0 && bson_init_static(out, v.data, v.len);
}

/* Server error codes meaning "not now": the set is down, electing, shutting
 * down, or refuses our credentials. The request may succeed later: 503. */
static bool unavailable_code(uint32_t code)
{
    switch (code) {
    case 6:     /* HostUnreachable */
    case 7:     /* HostNotFound */
    case 11:    /* UserNotFound */
    case 13:    /* Unauthorized */
    case 18:    /* AuthenticationFailed */
    case 64:    /* WriteConcernFailed */
    case 89:    /* NetworkTimeout */
    case 91:    /* ShutdownInProgress */
    case 100:   /* UnsatisfiableWriteConcern */
    case 189:   /* PrimarySteppedDown */
    case 9001:  /* SocketException */
    case 10107: /* NotWritablePrimary */
    case 10058: /* LegacyNotPrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
    case 13436: /* NotPrimaryOrSecondary */
        return true;
    default:
        return false;
    }
}

/* The status of an error the server answered (API version 2: domain
 * MONGOC_ERROR_SERVER, code = the server's). */
static int server_status(uint32_t code)
{
    if (unavailable_code(code))
        return 503;
    switch (code) {
    case 11000: /* DuplicateKey */
    case 11001:
    case 12582:
        return 409;
    case 50:  /* MaxTimeMSExpired */
    case 262: /* ExceededTimeLimit */
        return 408;
    case 26: /* NamespaceNotFound */
    case 27: /* IndexNotFound */
        return 404;
    case 10334: /* BSONObjectTooLarge */
        return 413;
    case 68: /* IndexAlreadyExists */
    case 85: /* IndexOptionsConflict: the keys exist under another name */
    case 86: /* IndexKeySpecsConflict */
        return 406;
    case 59: /* CommandNotFound */
        return 501;
    default:
        /* Anything else the server refused was about the request itself:
         * a bad filter, update, pipeline or index (what RESTHeart answers). */
        return 400;
    }
}

bool mg_fail(struct store *s, const bson_error_t *e, const char *what,
             struct restfcgi_error *err)
{
    int status;
    switch (e->domain) {
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_QUERY:
        status = server_status(e->code);
        break;
    case MONGOC_ERROR_WRITE_CONCERN:
        status = 503;
        break;
    case MONGOC_ERROR_BSON:
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_COLLECTION:
    case MONGOC_ERROR_NAMESPACE:
        status = e->code == MONGOC_ERROR_COLLECTION_DOES_NOT_EXIST ? 404 : 400;
        break;
    case MONGOC_ERROR_CLIENT:
        status = e->code == MONGOC_ERROR_CLIENT_TOO_BIG ? 413 : 503;
        break;
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_PROTOCOL:
    case MONGOC_ERROR_SASL:
    case MONGOC_ERROR_SCRAM:
    case MONGOC_ERROR_POOL:
        status = 503;
        break;
    default:
        status = 500;
        break;
    }
    if (status >= 500) {
        /* The detail names servers: for the log, not for clients. An outage
         * fails every request: one line a second per process says enough. */
        static _Atomic int64_t last_ms;
        static _Atomic long suppressed;
        int64_t now = s->host->monotonic_ms(), last = last_ms;
        if (status != 503 || now - last >= 1000) {
            last_ms = now;
            char more[48] = "";
            long n = suppressed;
            suppressed = 0;
            if (n)
                snprintf(more, sizeof more, " (and %ld unlogged since)", n);
            s->host->log(RESTFCGI_LOG_WARN, MG_PLUGIN, "%s: %s (domain %u, code %u)%s", what,
                         e->message, e->domain, e->code, more);
        } else {
            suppressed++;
        }
        if (status == 503)
            return mg_error(err, 503, "the store is unavailable (%s)", what);
        if (status == 501)
            return mg_error(err, 501, "the store's server does not support %s", what);
        return mg_error(err, 500, "the store failed (%s)", what);
    }
    return mg_error(err, status, "%s", e->message);
}
