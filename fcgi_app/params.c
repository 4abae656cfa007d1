#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_error.h"
#include "json.h"
#include "params.h"

/* The first server-side JavaScript in it (an operator that runs code, or
 * a code value), else NULL. */
static const char *javascript_in(bson_iter_t *it)
{
    static const char *const operators[] = {"$where", "$function", "$accumulator"};
    while (bson_iter_next(it)) {
        const char *key = bson_iter_key(it);
        for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++)
            if (strcmp(key, operators[i]) == 0)
                return operators[i];
        if (BSON_ITER_HOLDS_CODE(it) || BSON_ITER_HOLDS_CODEWSCOPE(it))
            return "a JavaScript code value";
        bson_iter_t child;
        const char *found;
        if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
            bson_iter_recurse(it, &child) && (found = javascript_in(&child)))
            return found;
    }
    return NULL;
}

bool params_no_javascript(const bson_t *doc, struct restfcgi_error *err)
{
    bson_iter_t it;
    const char *found;
    if (bson_iter_init(&it, doc) && (found = javascript_in(&it)))
        return client_error(err, 403, "server-side JavaScript (%s) is not allowed", found);
    return true;
}

bool params_filter(const struct request *req, const struct limits *limits, bool required,
                   bson_t *filter, struct restfcgi_error *err)
{
    bson_init(filter);
    size_t n = 0;
    for (size_t i = 0; i < req->nparams; i++)
        n += sv_eq_cstr(req->params[i].name, "filter");
    if (n == 0)
        return !required || client_error(err, 400, "the filter query parameter is required");
    bson_t and_list = BSON_INITIALIZER;
    bool ok = true;
    size_t k = 0;
    for (size_t i = 0; ok && i < req->nparams; i++) {
        if (!sv_eq_cstr(req->params[i].name, "filter"))
            continue;
        bson_t f;
        ok = json_parse(req->params[i].value, limits->max_depth, false, "filter", &f, NULL, err) &&
             params_no_javascript(&f, err);
        if (ok && n == 1) {
            bson_destroy(filter);
            bson_copy_to(&f, filter);
        } else if (ok) {
            char key[16];
            const char *kp;
            bson_uint32_to_string((uint32_t)k++, &kp, key, sizeof key);
            BSON_APPEND_DOCUMENT(&and_list, kp, &f);
        }
        bson_destroy(&f);
    }
    if (ok && n > 1)
        BSON_APPEND_ARRAY(filter, "$and", &and_list);
    bson_destroy(&and_list);
    return ok;
}

/* A non-negative integer parameter; absent leaves *out. */
static bool int_param(const struct request *req, const char *name, int64_t *out,
                      struct restfcgi_error *err)
{
    bool found;
    struct sv v = request_query(req, name, &found);
    if (!found)
        return true;
    char buf[32];
    /* strtoll skips leading spaces ("page=+1" decodes to " 1"); Java's
     * parseInt, which RESTHeart uses, does not. */
    if (v.len == 0 || v.len >= sizeof buf || v.ptr[0] == ' ' || (v.ptr[0] >= '\t' && v.ptr[0] <= '\r'))
        return client_error(err, 400, "%s must be an integer", name);
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end)
        return client_error(err, 400, "%s must be an integer", name);
    *out = x;
    return true;
}

/* sort and hint: JSON objects, or field names with an optional '-' ("-a"). */
static bool sort_like(const struct request *req, const struct limits *limits, const char *name,
                      bson_t *out, struct restfcgi_error *err)
{
    for (size_t i = 0; i < req->nparams; i++) {
        if (!sv_eq_cstr(req->params[i].name, name))
            continue;
        struct sv v = req->params[i].value;
        size_t j = 0;
        while (j < v.len && v.ptr[j] == ' ')
            j++;
        if (j < v.len && v.ptr[j] == '{') {
            bson_t d;
            bool ok = json_parse(v, limits->max_depth, false, name, &d, NULL, err) &&
                      params_no_javascript(&d, err);
            if (ok)
                bson_concat(out, &d);
            bson_destroy(&d);
            if (!ok)
                return false;
            continue;
        }
        bool desc = v.len && v.ptr[0] == '-';
        struct sv field = {v.ptr + desc, v.len - desc};
        if (field.len == 0 || field.ptr[0] == '$' || memchr(field.ptr, '\0', field.len))
            return client_error(err, 400, "%s must be a JSON object or a field name", name);
        bson_append_int32(out, field.ptr, (int)field.len, desc ? -1 : 1);
    }
    return true;
}

void params_find_free(struct find_params *p)
{
    bson_destroy(&p->filter);
    bson_destroy(&p->sort);
    bson_destroy(&p->keys);
    bson_destroy(&p->hint);
}

bool params_find(const struct request *req, const struct limits *limits, struct find_params *p,
                 struct restfcgi_error *err)
{
    bson_init(&p->sort);
    bson_init(&p->keys);
    bson_init(&p->hint);
    p->page = 1;
    p->pagesize = limits->default_pagesize;
    p->count = false;
    if (!params_filter(req, limits, false, &p->filter, err))
        return false;
    if (!int_param(req, "page", &p->page, err) || !int_param(req, "pagesize", &p->pagesize, err))
        return false;
    if (p->page < 1)
        return client_error(err, 400, "page must be 1 or more");
    if (p->pagesize < 0 || p->pagesize > limits->max_pagesize)
        return client_error(err, 400, "pagesize must be from 0 to %lld", (long long)limits->max_pagesize);
    if ((p->page - 1) > INT64_MAX / (p->pagesize ? p->pagesize : 1))
        return client_error(err, 400, "page is too large");
    for (size_t i = 0; i < req->nparams; i++) {
        if (!sv_eq_cstr(req->params[i].name, "keys"))
            continue;
        bson_t k;
        bool ok = json_parse(req->params[i].value, limits->max_depth, false, "keys", &k, NULL, err) &&
                  params_no_javascript(&k, err);
        if (ok)
            bson_concat(&p->keys, &k);
        bson_destroy(&k);
        if (!ok)
            return false;
    }
    request_query(req, "count", &p->count);
    return sort_like(req, limits, "sort", &p->sort, err) &&
           sort_like(req, limits, "hint", &p->hint, err);
}
