/* TEMPORARY stand-in until the real acl_predicate lands. */
#ifndef RESTFCGI_ACL_PREDICATE_H
#define RESTFCGI_ACL_PREDICATE_H
#include <stdint.h>
#include "request.h"
#include "sv.h"
struct acl_pred;
struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen);
void acl_pred_free(struct acl_pred *p);
#define ACL_VARS_MAX 16
struct acl_var { struct sv name, value; };
struct acl_vars { size_t n; struct acl_var v[ACL_VARS_MAX]; };
struct acl_request {
    struct sv method;
    const struct sv *segments;
    size_t nsegments;
    const struct query_param *params; size_t nparams;
    struct sv userid;
    const char *const *roles; size_t nroles;
    int64_t now_ms;
};
bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars);
#endif
