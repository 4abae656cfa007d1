/* acl_predicate.h: the predicate language of RESTHeart permissions
 * (Undertow's syntax), e.g. "path-prefix('/shop') and method(GET)" or
 * "path-template('/{db}/{coll}') and equals(@user._id, ${db})".
 *
 * Predicates: path, path-prefix (one or more prefixes), path-template,
 * method (one or more), qparams-contain, equals, true, false; joined by
 * and/or (and binds tighter), negated by not, grouped by parentheses.
 * Arguments are positional or key=value; values are quoted strings, bare
 * words, @user._id, @user.roles, @now or ${var} (a path-template capture).
 * Paths are compared segment by segment, with lengths, against the
 * request's decoded segments: %2e%2e, %2f, %00 and // cannot move a request
 * into or out of a prefix. */
#ifndef RESTFCGI_ACL_PREDICATE_H
#define RESTFCGI_ACL_PREDICATE_H

#include <stdint.h>

#include "request.h"
#include "sv.h"

#define ACL_PRED_TEXT_MAX 4096
#define ACL_PRED_NODES_MAX 64
#define ACL_PRED_DEPTH_MAX 32

struct acl_pred;

/* Parses text (len bytes); NULL with "at offset N: ..." in err. */
struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen);
void acl_pred_free(struct acl_pred *p);

#define ACL_VARS_MAX 16
struct acl_var {
    struct sv name, value;
};
struct acl_vars {
    size_t n;
    struct acl_var v[ACL_VARS_MAX];
};

struct acl_request {
    struct sv method; /* "GET", ... */
    const struct sv *segments; /* decoded, empty ones dropped */
    size_t nsegments;
    const struct query_param *params;
    size_t nparams;
    struct sv userid; /* empty when unauthenticated */
    const char *const *roles;
    size_t nroles;
    int64_t now_ms;
};

/* True when p holds for r; path-template captures go into vars (which
 * equals() then reads, left to right). */
bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars);

#endif
