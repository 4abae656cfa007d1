#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "acl_predicate.h"
#include "auth.h"
#include "client_error.h"
#include "handlers/common.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "users.h"

#define ACL_FILE_MAX (1 << 22)

struct permission {
    char id[64];
    char **roles;
    size_t nroles;
    int64_t priority;
    struct acl_pred *pred;
    bson_t read_filter, write_filter, merge_request, project_response;
    bool has_read_filter, has_write_filter, has_merge_request, has_project_response;
    bool allow_management, allow_bulk_patch, allow_bulk_delete, allow_write_mode;
};

/* An immutable set of permissions in priority order, shared by reference. */
struct perm_set {
    int refs;
    size_t n;
    struct permission **perms; /* each on its own: bson_t may not move */
};

struct acl {
    const char *db, *coll; /* store source; NULL with a file */
    pthread_mutex_t lock;     /* guards set, loaded_ms, refs */
    pthread_mutex_t reload;   /* one reloader at a time */
    struct perm_set *set;
    int64_t loaded_ms;        /* monotonic; 0: never */
};

static void permission_free(struct permission *p)
{
    for (size_t i = 0; i < p->nroles; i++)
        free(p->roles[i]);
    free(p->roles);
    acl_pred_free(p->pred);
    bson_destroy(&p->read_filter);
    bson_destroy(&p->write_filter);
    bson_destroy(&p->merge_request);
    bson_destroy(&p->project_response);
}

static void set_release(struct acl *acl, struct perm_set *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&acl->lock);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&acl->lock);
    if (!last)
        return;
    for (size_t i = 0; i < s->n; i++) {
        permission_free(s->perms[i]);
        free(s->perms[i]);
    }
    free(s->perms);
    free(s);
}

static bool bad(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

static bool parse_roles(const bson_t *doc, struct permission *p, char *why, size_t len)
{
    bson_iter_t it, el;
    /* "roles": [...] as RESTHeart v8, or the older "role": "name". */
    if (bson_iter_init_find(&it, doc, "role") && BSON_ITER_HOLDS_UTF8(&it)) {
        p->roles = calloc(1, sizeof *p->roles);
        p->roles[0] = p->roles ? strdup(bson_iter_utf8(&it, NULL)) : NULL;
        p->nroles = p->roles && p->roles[0];
        return p->nroles == 1 || bad(why, len, "out of memory");
    }
    if (!bson_iter_init_find(&it, doc, "roles") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &el))
        return bad(why, len, "roles must be an array of strings");
    size_t cap = 0;
    while (bson_iter_next(&el)) {
        if (!BSON_ITER_HOLDS_UTF8(&el))
            return bad(why, len, "roles must be an array of strings");
        if (p->nroles == cap) {
            cap = cap ? 2 * cap : 4;
            char **r = realloc(p->roles, cap * sizeof *r);
            if (!r)
                return bad(why, len, "out of memory");
            p->roles = r;
        }
        if (!(p->roles[p->nroles] = strdup(bson_iter_utf8(&el, NULL))))
            return bad(why, len, "out of memory");
        p->nroles++;
    }
    return p->nroles > 0 || bad(why, len, "roles must not be empty");
}

static bool parse_doc_field(bson_iter_t *parent, const char *key, bson_t *out, bool *has,
                            char *why, size_t len)
{
    bson_iter_t it;
    if (!bson_iter_find_descendant(parent, key, &it))
        return true;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
        snprintf(why, len, "mongo.%s must be an object", key);
        return false;
    }
    const uint8_t *data;
    uint32_t n;
    bson_iter_document(&it, &n, &data);
    bson_destroy(out);
    bson_init_static(out, data, n);
    bson_t copy;
    bson_copy_to(out, &copy);
    bson_steal(out, &copy);
    *has = true;
    return true;
}

static bool parse_mongo(const bson_t *doc, struct permission *p, char *why, size_t len)
{
    bson_iter_t root, it;
    if (!bson_iter_init_find(&root, doc, "mongo"))
        return true;
    if (!BSON_ITER_HOLDS_DOCUMENT(&root))
        return bad(why, len, "mongo must be an object");
    const struct {
        const char *key;
        bool *flag;
    } flags[] = {
        {"allowManagementRequests", &p->allow_management},
        {"allowBulkPatch", &p->allow_bulk_patch},
        {"allowBulkDelete", &p->allow_bulk_delete},
        {"allowWriteMode", &p->allow_write_mode},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        bson_iter_t f;
        bson_iter_init_find(&it, doc, "mongo");
        if (!bson_iter_recurse(&it, &f) || !bson_iter_find(&f, flags[i].key))
            continue;
        if (!BSON_ITER_HOLDS_BOOL(&f)) {
            snprintf(why, len, "mongo.%s must be a boolean", flags[i].key);
            return false;
        }
        *flags[i].flag = bson_iter_bool(&f);
    }
    static const char *const known[] = {"readFilter", "writeFilter", "mergeRequest",
                                        "projectResponse", "allowManagementRequests",
                                        "allowBulkPatch", "allowBulkDelete", "allowWriteMode"};
    bson_iter_t k;
    bson_iter_recurse(&root, &k);
    while (bson_iter_next(&k)) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strcmp(bson_iter_key(&k), known[i]) == 0;
        if (!ok) {
            snprintf(why, len, "unknown key mongo.%.60s", bson_iter_key(&k));
            return false;
        }
    }
    bson_iter_t a, b, c, d;
    bson_iter_recurse(&root, &a);
    bson_iter_recurse(&root, &b);
    bson_iter_recurse(&root, &c);
    bson_iter_recurse(&root, &d);
    return parse_doc_field(&a, "readFilter", &p->read_filter, &p->has_read_filter, why, len) &&
           parse_doc_field(&b, "writeFilter", &p->write_filter, &p->has_write_filter, why, len) &&
           parse_doc_field(&c, "mergeRequest", &p->merge_request, &p->has_merge_request, why,
                           len) &&
           parse_doc_field(&d, "projectResponse", &p->project_response,
                           &p->has_project_response, why, len);
}

/* One permission document; false with the reason in why. */
static bool permission_parse(const bson_t *doc, struct permission *p, char *why, size_t len)
{
    memset(p, 0, sizeof *p);
    bson_init(&p->read_filter);
    bson_init(&p->write_filter);
    bson_init(&p->merge_request);
    bson_init(&p->project_response);
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(p->id, sizeof p->id, "%s", bson_iter_utf8(&it, NULL));
    else if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
        bson_oid_to_string(bson_iter_oid(&it), p->id);
    if (!bson_iter_init_find(&it, doc, "priority"))
        p->priority = 0;
    else if (BSON_ITER_HOLDS_NUMBER(&it))
        p->priority = bson_iter_as_int64(&it);
    else
        return bad(why, len, "priority must be a number");
    if (!bson_iter_init_find(&it, doc, "predicate") || !BSON_ITER_HOLDS_UTF8(&it))
        return bad(why, len, "predicate must be a string");
    uint32_t n;
    const char *text = bson_iter_utf8(&it, &n);
    char perr[200];
    p->pred = acl_pred_parse(text, n, perr, sizeof perr);
    if (!p->pred) {
        snprintf(why, len, "predicate %.150s", perr);
        return false;
    }
    return parse_roles(doc, p, why, len) && parse_mongo(doc, p, why, len);
}

static int by_priority(const void *a, const void *b)
{
    const struct permission *x = *(struct permission *const *)a,
                            *y = *(struct permission *const *)b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* A set from an array of permission documents (given as emitted BSON). An
 * invalid permission is skipped with a warning (strict: an error). */
struct set_builder {
    struct perm_set *set;
    size_t cap;
    bool strict;
    char error[256];
};

static bool add_permission(void *ctx, const uint8_t *data, uint32_t len,
                           struct restfcgi_error *err)
{
    struct set_builder *b = ctx;
    bson_t doc;
    if (!bson_init_static(&doc, data, len))
        return true;
    if (b->set->n == ACL_MAX_PERMISSIONS)
        return client_error(err, 503, "more than %d permissions", ACL_MAX_PERMISSIONS);
    if (b->set->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        struct permission **p = realloc(b->set->perms, b->cap * sizeof *p);
        if (!p)
            return client_error(err, 503, "out of memory reading permissions");
        b->set->perms = p;
    }
    struct permission *p = calloc(1, sizeof *p);
    if (!p)
        return client_error(err, 503, "out of memory reading permissions");
    char why[200];
    if (permission_parse(&doc, p, why, sizeof why)) {
        b->set->perms[b->set->n++] = p;
        return true;
    }
    char id[sizeof p->id];
    memcpy(id, p->id, sizeof id);
    permission_free(p);
    free(p);
    if (b->strict) {
        snprintf(b->error, sizeof b->error, "permission %zu (%.60s): %.150s", b->set->n, id, why);
        return client_error(err, 400, "%s", b->error);
    }
    log_warn("ignoring permission '%s': %s", id, why);
    return true;
}

static struct perm_set *set_new(void)
{
    struct perm_set *s = calloc(1, sizeof *s);
    if (s)
        s->refs = 1;
    return s;
}

static void set_sort(struct perm_set *s)
{
    if (s->n)
        qsort(s->perms, s->n, sizeof *s->perms, by_priority);
}

static bool load_file(struct acl *acl, const char *path, struct restfcgi_error *err)
{
    bson_t arr;
    bool ok = json_read_file(path, ACL_FILE_MAX, 64, &arr, err);
    if (!ok) {
        bson_destroy(&arr);
        return false;
    }
    struct set_builder b = {.set = set_new(), .strict = true};
    bson_iter_t it;
    bson_iter_init(&it, &arr);
    while (ok && b.set && bson_iter_next(&it)) {
        const uint8_t *data;
        uint32_t len;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            snprintf(b.error, sizeof b.error, "permission %zu is not an object", b.set->n);
            ok = false;
            break;
        }
        bson_iter_document(&it, &len, &data);
        ok = add_permission(&b, data, len, err);
    }
    bson_destroy(&arr);
    if (!ok || !b.set) {
        err->domain = RESTFCGI_ERR_CONFIG;
        snprintf(err->message, sizeof err->message, "%.100s:0: %.140s", path,
                 b.set ? b.error : "out of memory");
        if (b.set)
            set_release(acl, b.set);
        return false;
    }
    set_sort(b.set);
    acl->set = b.set;
    acl->loaded_ms = INT64_MAX; /* a file is read once */
    return true;
}

bool acl_new(const struct cfg *cfg, struct acl **out, struct restfcgi_error *err)
{
    struct acl *acl = calloc(1, sizeof *acl);
    *out = NULL;
    if (!acl)
        return client_error(err, 500, "out of memory");
    pthread_mutex_init(&acl->lock, NULL);
    pthread_mutex_init(&acl->reload, NULL);
    if (cfg->acl_file) {
        if (!load_file(acl, cfg->acl_file, err)) {
            acl_free(acl);
            return false;
        }
    } else {
        acl->db = cfg->acl_db;
        acl->coll = cfg->acl_coll;
    }
    *out = acl;
    return true;
}

void acl_free(struct acl *acl)
{
    if (!acl)
        return;
    set_release(acl, acl->set);
    pthread_mutex_destroy(&acl->lock);
    pthread_mutex_destroy(&acl->reload);
    free(acl);
}

/* Reads the permissions from the store; an absent collection is no permission. */
static struct perm_set *load_store(const struct app *app, struct acl *acl,
                                   struct restfcgi_error *err)
{
    struct set_builder b = {.set = set_new()};
    if (!b.set) {
        client_error(err, 503, "out of memory reading permissions");
        return NULL;
    }
    struct restfcgi_find q = {.limit = ACL_MAX_PERMISSIONS + 1,
                              .max_time_ms = app->cfg->limits.query_time_ms};
    if (!app_store(app)->find(app->store.state, acl->db, acl->coll, &q, add_permission, &b, err) &&
        err->code != 404) {
        set_release(acl, b.set);
        return NULL;
    }
    set_sort(b.set);
    return b.set;
}

/* The current set, with a reference the caller releases; re-read from the
 * store when older than ACL_REFRESH_MS (one thread reads, others keep using
 * the previous set meanwhile). */
static struct perm_set *current_set(const struct app *app, struct acl *acl,
                                    struct restfcgi_error *err)
{
    int64_t now = host_monotonic_ms();
    pthread_mutex_lock(&acl->lock);
    bool stale = acl->loaded_ms != INT64_MAX && now - acl->loaded_ms >= ACL_REFRESH_MS;
    pthread_mutex_unlock(&acl->lock);
    if (stale && (acl->set == NULL ? pthread_mutex_lock(&acl->reload) == 0
                                   : pthread_mutex_trylock(&acl->reload) == 0)) {
        struct perm_set *fresh = load_store(app, acl, err);
        pthread_mutex_lock(&acl->lock);
        if (fresh) {
            struct perm_set *old = acl->set;
            acl->set = fresh;
            acl->loaded_ms = now;
            pthread_mutex_unlock(&acl->lock);
            set_release(acl, old);
        } else {
            pthread_mutex_unlock(&acl->lock);
            log_warn("permissions cannot be read: %s", err->message);
        }
        pthread_mutex_unlock(&acl->reload);
    }
    pthread_mutex_lock(&acl->lock);
    struct perm_set *s = acl->set;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&acl->lock);
    if (!s && err->code == 0)
        client_error(err, 503, "permissions not loaded yet");
    return s;
}

static bool has_role(const struct permission *p, const char *role)
{
    for (size_t i = 0; i < p->nroles; i++) {
        if (strcmp(p->roles[i], role) == 0)
            return true;
    }
    return false;
}

static bool roles_meet(const struct permission *perm, const struct principal *p)
{
    if (!p->authenticated)
        return has_role(perm, ACL_UNAUTHENTICATED_ROLE);
    for (uint32_t i = 0; i < p->account.nroles; i++) {
        if (has_role(perm, p->account.roles[i]))
            return true;
    }
    return false;
}

/* Variables in a rule's values: "@user._id", "@user.roles", "@now" and
 * "${name}" (a path-template capture) as whole string values. */
static bool interpolate(const bson_t *in, bson_t *out, const struct principal *p,
                        const struct acl_vars *vars, int depth);

static void append_value(bson_t *out, const char *key, bson_iter_t *it, const struct principal *p,
                         const struct acl_vars *vars, int depth)
{
    size_t klen = strlen(key);
    if (BSON_ITER_HOLDS_UTF8(it)) {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        struct sv v = {s, n};
        if (sv_eq_cstr(v, "@user._id") || sv_eq_cstr(v, "@user.userid")) {
            bson_append_utf8(out, key, (int)klen, p->account.userid, -1);
            return;
        }
        if (sv_eq_cstr(v, "@user.roles")) {
            bson_t arr;
            bson_append_array_begin(out, key, (int)klen, &arr);
            for (uint32_t i = 0; i < p->account.nroles; i++) {
                char idx[16];
                snprintf(idx, sizeof idx, "%u", i);
                BSON_APPEND_UTF8(&arr, idx, p->account.roles[i]);
            }
            bson_append_array_end(out, &arr);
            return;
        }
        if (sv_eq_cstr(v, "@now")) {
            bson_append_date_time(out, key, (int)klen, host_now_ms());
            return;
        }
        if (n > 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}') {
            struct sv name = {s + 2, n - 3};
            for (size_t i = 0; vars && i < vars->n; i++) {
                if (sv_eq(vars->v[i].name, name)) {
                    bson_append_utf8(out, key, (int)klen, vars->v[i].value.ptr,
                                     (int)vars->v[i].value.len);
                    return;
                }
            }
        }
    }
    if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) && depth < 32) {
        const uint8_t *data;
        uint32_t len;
        bson_t sub, child;
        if (BSON_ITER_HOLDS_DOCUMENT(it)) {
            bson_iter_document(it, &len, &data);
            bson_init_static(&sub, data, len);
            bson_append_document_begin(out, key, (int)klen, &child);
            interpolate(&sub, &child, p, vars, depth + 1);
            bson_append_document_end(out, &child);
        } else {
            bson_iter_array(it, &len, &data);
            bson_init_static(&sub, data, len);
            bson_append_array_begin(out, key, (int)klen, &child);
            interpolate(&sub, &child, p, vars, depth + 1);
            bson_append_array_end(out, &child);
        }
        return;
    }
    bson_append_iter(out, key, (int)klen, it);
}

static bool interpolate(const bson_t *in, bson_t *out, const struct principal *p,
                        const struct acl_vars *vars, int depth)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, in))
        return false;
    while (bson_iter_next(&it))
        append_value(out, bson_iter_key(&it), &it, p, vars, depth);
    return true;
}

static bool is_management(const struct request *req, const struct route *route)
{
    bool write = req->method != HTTP_GET && req->method != HTTP_HEAD;
    switch (route->kind) {
    case RES_ROOT:
    case RES_DB:
    case RES_INDEXES:
    case RES_INDEX:
    case RES_DB_META:
    case RES_COLL_META:
        return write;
    case RES_COLLECTION:
        return req->method == HTTP_PUT || req->method == HTTP_DELETE;
    default:
        return false;
    }
}

/* The mongo flags of the deciding permission against the request's kind. */
static bool flags_allow(const struct grant *g, const struct request *req,
                        const struct route *route)
{
    bool wm, write_mode;
    request_query(req, "wm", &wm);
    request_query(req, "writeMode", &write_mode);
    if ((wm || write_mode) && !g->allow_write_mode)
        return false;
    if (is_management(req, route) && !g->allow_management)
        return false;
    if (route->kind == RES_BULK && req->method == HTTP_PATCH && !g->allow_bulk_patch)
        return false;
    if (route->kind == RES_BULK && req->method == HTTP_DELETE && !g->allow_bulk_delete)
        return false;
    return true;
}

static void grant_init(struct grant *g)
{
    memset(g, 0, sizeof *g);
    bson_init(&g->read_filter);
    bson_init(&g->write_filter);
    bson_init(&g->merge_request);
    bson_init(&g->project_response);
}

void grant_free(struct grant *g)
{
    bson_destroy(&g->read_filter);
    bson_destroy(&g->write_filter);
    bson_destroy(&g->merge_request);
    bson_destroy(&g->project_response);
}

static void grant_from(struct grant *g, const struct permission *perm, const struct principal *p,
                       const struct acl_vars *vars)
{
    snprintf(g->permission, sizeof g->permission, "%s", perm->id);
    g->allow_management = perm->allow_management;
    g->allow_bulk_patch = perm->allow_bulk_patch;
    g->allow_bulk_delete = perm->allow_bulk_delete;
    g->allow_write_mode = perm->allow_write_mode;
    if ((g->has_read_filter = perm->has_read_filter))
        interpolate(&perm->read_filter, &g->read_filter, p, vars, 0);
    if ((g->has_write_filter = perm->has_write_filter))
        interpolate(&perm->write_filter, &g->write_filter, p, vars, 0);
    if ((g->has_merge_request = perm->has_merge_request))
        interpolate(&perm->merge_request, &g->merge_request, p, vars, 0);
    if ((g->has_project_response = perm->has_project_response))
        interpolate(&perm->project_response, &g->project_response, p, vars, 0);
}

bool acl_is_root(const struct app *app, const struct principal *p)
{
    for (uint32_t i = 0; p->authenticated && i < p->account.nroles; i++) {
        if (strcmp(p->account.roles[i], app->cfg->root_role) == 0)
            return true;
    }
    return false;
}

enum acl_decision acl_authorize(const struct app *app, const struct request *req,
                                const struct route *route, const struct principal *p,
                                struct grant *g, struct restfcgi_error *err)
{
    struct acl *acl = security_acl(app->sec);
    grant_init(g);
    if (route->kind != RES_NONE && route->db.len && route->coll.len) {
        char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
        struct restfcgi_error ignored;
        if (route_coll(route, db, coll, &ignored))
            g->users_coll = users_is_collection(security_users(app->sec), db, coll);
    }
    if (acl_is_root(app, p)) {
        g->root = true;
        snprintf(g->permission, sizeof g->permission, "root role");
        return ACL_ALLOW;
    }
    struct perm_set *set = current_set(app, acl, err);
    if (!set)
        return ACL_ERROR;
    const char *roles[RESTFCGI_ROLES_MAX];
    for (uint32_t i = 0; i < p->account.nroles; i++)
        roles[i] = p->account.roles[i];
    struct acl_request r = {
        .method = req->method_name,
        .segments = req->segments,
        .nsegments = req->nsegments,
        .params = req->params,
        .nparams = req->nparams,
        .userid = sv_from_cstr(p->authenticated ? p->account.userid : ""),
        .roles = roles,
        .nroles = p->authenticated ? p->account.nroles : 0,
        .now_ms = host_now_ms(),
    };
    enum acl_decision d = ACL_DENY;
    for (size_t i = 0; i < set->n; i++) {
        const struct permission *perm = set->perms[i];
        struct acl_vars vars = {0};
        if (!roles_meet(perm, p) || !acl_pred_eval(perm->pred, &r, &vars))
            continue;
        grant_from(g, perm, p, &vars);
        d = flags_allow(g, req, route) ? ACL_ALLOW : ACL_DENY;
        if (d == ACL_DENY)
            log_debug("permission '%s' matches but its mongo flags forbid this request", perm->id);
        break;
    }
    set_release(acl, set);
    return d;
}
