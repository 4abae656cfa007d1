/* policy.h: the deciding permission's mongo rules (acl.h) and the users
 * collection's own rules, applied where handlers read and write. Root and
 * requests without rules pass through unchanged. */
#ifndef RESTFCGI_HANDLERS_POLICY_H
#define RESTFCGI_HANDLERS_POLICY_H

#include <bson/bson.h>

#include "../app.h"

/* out = filter AND readFilter; 403 when the users collection is filtered on
 * its password field. out is initialised on every path. */
bool policy_read_filter(const struct request *req, const bson_t *filter, bson_t *out,
                        struct restfcgi_error *err);
/* 403 when doc (a filter of a bulk write, a sort, a hint) names the users
 * collection's password field: matching or ordering on it is an oracle. */
bool policy_no_password(const struct request *req, const bson_t *doc, const char *what,
                        struct restfcgi_error *err);
/* out = filter AND writeFilter (updates, replacements, deletes). */
void policy_write_filter(const struct request *req, const bson_t *filter, bson_t *out);
/* A document about to be written whole (POST, PUT): mergeRequest's fields
 * override the client's; a users document gets its password hashed. */
bool policy_write_doc(const struct app *app, const struct request *req, bson_t *doc,
                      struct restfcgi_error *err);
/* A PATCH body (operators or plain fields; is_pipeline: stages): the same
 * through $set; on the users collection pipelines and operators other than
 * $set/$unset touching the password are 403. */
bool policy_write_update(const struct app *app, const struct request *req, bson_t *body,
                         bool is_pipeline, struct restfcgi_error *err);
/* A pipeline with readFilter as a leading $match; 403 on the users collection. */
bool policy_pipeline(const struct request *req, const bson_t *pipeline, bson_t *out,
                     struct restfcgi_error *err);
/* The response shaping of a request (projectResponse, password removal),
 * installed on a response for every document it carries; the caller owns
 * it until the response is sent. */
struct shaper {
    const struct grant *grant;
    struct mql_projection *projection;
};
/* False with a 500 when the permission's projectResponse is invalid. */
bool policy_shape_responses(const struct request *req, struct shaper *s, struct response *resp,
                            struct restfcgi_error *err);
void policy_shaper_free(struct shaper *s);

#endif
