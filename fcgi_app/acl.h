/* acl.h: who may do what (SPEC §5, RESTHeart v8 permissions). Permission
 * documents {"_id", "roles": [...], "priority": n, "predicate": "...",
 * "mongo": {readFilter, writeFilter, mergeRequest, projectResponse,
 * allowManagementRequests, allowBulkPatch, allowBulkDelete, allowWriteMode}}
 * live in the store collection auth.acl (re-read every ACL_REFRESH_MS, so a
 * change reaches every process of every node within 5 s) or a JSON file.
 * The permission of lowest priority number whose roles meet the caller's
 * and whose predicate holds decides; none is a denial. root_role may do
 * everything; "$unauthenticated" names callers without credentials. */
#ifndef RESTFCGI_ACL_H
#define RESTFCGI_ACL_H

#include <bson/bson.h>

#include "app.h"
#include "router.h"

#define ACL_REFRESH_MS 2000
#define ACL_MAX_PERMISSIONS 10000
#define ACL_UNAUTHENTICATED_ROLE "$unauthenticated"

struct acl;
struct principal;

/* In the parent: the ACL file when configured (CONFIG errors name the bad
 * permission); with the store, nothing is read until the first request. */
bool acl_new(const struct cfg *cfg, struct acl **out, struct restfcgi_error *err);
void acl_free(struct acl *acl);

/* What an allowed request may do: the permission's mongo rules with the
 * variables (@user._id, @user.roles, @now, ${template var}) substituted. */
struct grant {
    bool root;       /* root_role: no rules */
    bool users_coll; /* the target is the users collection: passwords hashed
                        on write, never returned, never filtered on */
    bool has_read_filter, has_write_filter, has_merge_request, has_project_response;
    bson_t read_filter, write_filter, merge_request, project_response;
    bool allow_management, allow_bulk_patch, allow_bulk_delete, allow_write_mode;
    char permission[64]; /* the deciding permission's _id, for the debug log */
};

enum acl_decision { ACL_ALLOW, ACL_DENY, ACL_ERROR };

/* Decides for req (route already matched) by p. ACL_ALLOW fills g (free it
 * with grant_free); ACL_DENY when no permission allows it or its mongo
 * flags forbid it (the caller answers 401 or 403); ACL_ERROR with a 503 in
 * err when the permissions cannot be read. */
enum acl_decision acl_authorize(const struct app *app, const struct request *req,
                                const struct route *route, const struct principal *p,
                                struct grant *g, struct restfcgi_error *err);
void grant_free(struct grant *g);

/* True when p is authenticated with auth.root_role. */
bool acl_is_root(const struct app *app, const struct principal *p);

#endif
