/* router.h: URL -> resource kind (+ names) -> the one handler for a method.
 * Service paths (/ping, /health, /tokens, /roles, /metrics) take precedence
 * over database names, as in RESTHeart. */
#ifndef RESTFCGI_ROUTER_H
#define RESTFCGI_ROUTER_H

#include "request.h"
#include "response.h"

enum resource_kind {
    RES_NONE = 0,
    RES_ROOT,
    RES_DB,
    RES_DB_META,
    RES_COLLECTION,
    RES_COLL_META,
    RES_SIZE,
    RES_INDEXES,
    RES_INDEX,
    RES_AGGR,
    RES_BULK,
    RES_DOCUMENT,
    RES_PING,
    RES_HEALTH,
    RES_TOKENS,
    RES_ROLES,
    RES_METRICS,
};

struct route {
    enum resource_kind kind;
    struct sv db, coll, doc; /* decoded names, as far as the kind has them */
    struct sv name;          /* index, aggregation or user id */
};

struct app;
typedef void (*handler_fn)(const struct app *app, const struct request *req,
                           const struct route *route, struct response *resp);

/* Classifies the decoded path; false (with a 404 in err) when no resource
 * kind has that shape. */
bool router_match(const struct request *req, struct route *route, struct restfcgi_error *err);

/* The handler for (kind, method), or NULL; then *allow lists the methods the
 * kind has ("GET, HEAD"), empty when it has none (a 404). */
handler_fn router_handler(enum resource_kind kind, enum http_method method, char *allow,
                          size_t allow_len);

const char *resource_kind_name(enum resource_kind kind);

#endif
