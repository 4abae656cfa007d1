/* acl_predicate.h: the permission predicates of RESTHeart v8 ACL documents
 * ("predicate": "path-prefix('/inventory') and method(GET)"), in Undertow's
 * predicate syntax, parsed once when the ACL is loaded and evaluated per
 * request against decoded, length-delimited path segments.
 *
 * Grammar (keywords and predicate names case-insensitive):
 *   expr  := and ('or' and)*            'and' binds tighter than 'or'
 *   and   := term ('and' term)*
 *   term  := 'not' term | '(' expr ')' | 'true' | 'false' | call
 *   call  := name '(' [arg (',' arg)*] ')'
 *   arg   := value | key '=' (value | '{' value (',' value)* '}')
 *   value := 'str' | "str" (\x escapes x) | bareword | @user._id | @user.roles
 *          | @user.<field> | @now | ${name}
 * Positional and key=value arguments do not mix; one key=value per call.
 *
 * Predicates:
 *   path(P), path(path=P)             the path is exactly P
 *   path-prefix(P, ...), (path=P)     the path is P or below P, for any P
 *   path-template(T), (value=T)       T's {name} segments capture one whole
 *                                     segment; a final '*' segment allows more
 *   method(M, ...), (value=M)         the method is one of M (any case)
 *   qparams-contain(a, ...), (value=) every named query parameter is present
 *   equals(x, y), (value={x, y})      both sides resolve and are byte-equal
 * Paths are compared segment by segment with lengths, case-sensitively: P
 * and T are split on '/' at parse time, empty segments dropped, literal (no
 * percent-decoding), '.' and '..' refused. A request segment holding '/',
 * NUL or "..", being decoded data, only ever equals the same bytes.
 *
 * Limits: 4096 bytes of text, 64 nodes (each call, and, or, not, true,
 * false), 32 nested levels of '(' and 'not', 16 captures in all templates. */
#ifndef RESTFCGI_ACL_PREDICATE_H
#define RESTFCGI_ACL_PREDICATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "sv.h"

#define ACL_PRED_MAX_TEXT 4096
#define ACL_PRED_MAX_NODES 64
#define ACL_PRED_MAX_DEPTH 32
#define ACL_VARS_MAX 16

/* A parsed predicate, immutable once parsed: one may be shared by any number
 * of evaluations. */
struct acl_pred;

/* Parses text (len bytes, not NUL-terminated; a NUL byte is an error).
 * Returns a predicate freed with acl_pred_free, or NULL with
 * "at offset N: <reason>" in err (when err is not NULL and errlen > 0). */
struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen);

/* Accepts NULL. */
void acl_pred_free(struct acl_pred *p);

/* One path-template capture: name borrowed from the predicate, value from
 * the request's segments (any bytes, never empty). */
struct acl_var {
    struct sv name, value;
};

struct acl_vars {
    size_t n;
    struct acl_var v[ACL_VARS_MAX];
};

/* What a predicate is evaluated against; everything is borrowed. */
struct acl_request {
    struct sv method;          /* "GET", "POST", ...; compared in any case */
    const struct sv *segments; /* decoded path segments, empty ones dropped */
    size_t nsegments;
    const struct query_param *params; /* decoded name/value */
    size_t nparams;
    struct sv userid; /* empty when unauthenticated */
    const char *const *roles;
    size_t nroles;
    int64_t now_ms; /* @now, ms since the epoch */
    /* Optional (NULL: none): @user.<field> other than _id and roles, for
     * equals; true with a borrowed string value when the authenticated user
     * has that field as a string, false otherwise (equals is then false). */
    bool (*user_field)(void *ctx, struct sv field, struct sv *value);
    void *user_ctx;
};

/* True when p holds for r. vars (may be NULL) is reset, then receives the
 * captures of the path-templates that made p true; on false it is empty.
 * and/or short-circuit left to right, so ${name} in equals sees the
 * captures of path-templates to its left that held. An unresolved side of
 * equals (unknown ${name}, @user._id or @user.<field> unauthenticated or
 * absent) makes it false, never true; 'not' of it is then true. */
bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars);

/* The latest capture named name; false when there is none. */
bool acl_vars_get(const struct acl_vars *vars, struct sv name, struct sv *value);

/* A variable reference in a string of a permission's mongo filters
 * (readFilter, writeFilter, mergeRequest), resolved for the caller to put
 * into bson. */
enum acl_ref_kind {
    ACL_REF_STRING,     /* @user._id or ${name}: value (borrowed) */
    ACL_REF_ROLES,      /* @user.roles: the array r->roles */
    ACL_REF_NOW,        /* @now: a date, now_ms */
    ACL_REF_USER_FIELD, /* @user.<field>: value is the field's dotted name,
                           looked up by the caller in the user document */
    ACL_REF_UNDEFINED,  /* unknown ${name} or no authenticated user: the
                           caller must refuse the request, not drop the term */
};

struct acl_ref {
    enum acl_ref_kind kind;
    struct sv value;
    int64_t now_ms;
};

/* False when s is not exactly one variable reference (a literal string, left
 * as it is); otherwise true with *out set. vars may be NULL. */
bool acl_pred_ref(struct sv s, const struct acl_request *r, const struct acl_vars *vars,
                  struct acl_ref *out);

#endif
