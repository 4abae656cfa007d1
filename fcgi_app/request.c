#include <bson/bson.h>
#include <ctype.h>
#include <limits.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "client_error.h"
#include "request.h"

static const struct {
    const char *name;
    enum http_method method;
} methods[] = {
    {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
    {"PUT", HTTP_PUT},     {"PATCH", HTTP_PATCH},   {"DELETE", HTTP_DELETE},
    {"OPTIONS", HTTP_OPTIONS},
};

const char *http_method_name(enum http_method m)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (methods[i].method == m)
            return methods[i].name;
    }
    return "OTHER";
}

struct sv request_env(const struct request *req, const char *name, bool *found)
{
    size_t nlen = strlen(name);
    for (char **e = req->envp; e && *e; e++) {
        if (strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '=') {
            if (found)
                *found = true;
            return sv_from_cstr(*e + nlen + 1);
        }
    }
    if (found)
        *found = false;
    return (struct sv){"", 0};
}

struct sv request_header(const struct request *req, const char *name, bool *found)
{
    char env[128];
    size_t n = strlen(name);
    /* CGI carries Content-Type and Content-Length without the HTTP_ prefix. */
    bool bare = strcasecmp(name, "Content-Type") == 0 || strcasecmp(name, "Content-Length") == 0;
    size_t off = bare ? 0 : 5;
    if (n + off >= sizeof env) {
        if (found)
            *found = false;
        return (struct sv){"", 0};
    }
    memcpy(env, "HTTP_", off);
    for (size_t i = 0; i < n; i++)
        env[off + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    env[off + n] = '\0';
    return request_env(req, env, found);
}

struct sv request_query(const struct request *req, const char *name, bool *found)
{
    struct sv key = sv_from_cstr(name);
    for (size_t i = 0; i < req->nparams; i++) {
        if (sv_eq(req->params[i].name, key)) {
            if (found)
                *found = true;
            return req->params[i].value;
        }
    }
    if (found)
        *found = false;
    return (struct sv){"", 0};
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in into the arena; plus_is_space for query strings.
 * Refuses bad escapes, NUL bytes and invalid UTF-8 with a 400. */
static bool decode(struct arena *arena, struct sv in, bool plus_is_space, const char *what,
                   struct sv *out, struct restfcgi_error *err)
{
    char *buf = arena_alloc(arena, in.len + 1);
    if (!buf)
        return client_error(err, 500, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi = i + 1 < in.len ? hex_value(in.ptr[i + 1]) : -1;
            int lo = i + 2 < in.len ? hex_value(in.ptr[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return client_error(err, 400, "invalid percent-escape in %s", what);
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            return client_error(err, 400, "NUL byte in %s", what);
        buf[n++] = c;
    }
    buf[n] = '\0';
    if (!bson_utf8_validate(buf, n, false))
        return client_error(err, 400, "invalid UTF-8 in %s", what);
    *out = (struct sv){buf, n};
    return true;
}

/* The path below base_path into decoded segments; "." and ".." refused. */
static bool split_path(struct request *req, struct arena *arena, struct restfcgi_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < req->path.len; i++)
        cap += req->path.ptr[i] == '/';
    req->segments = arena_calloc(arena, cap + 1, sizeof *req->segments);
    if (!req->segments)
        return client_error(err, 500, "out of memory");
    const char *p = req->path.ptr, *end = p + req->path.len;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        if (seg_end > p) {
            struct sv seg;
            if (!decode(arena, (struct sv){p, (size_t)(seg_end - p)}, false, "the path", &seg,
                        err))
                return false;
            if (sv_eq_cstr(seg, ".") || sv_eq_cstr(seg, ".."))
                return client_error(err, 400, "'.' and '..' are not allowed in the path");
            req->segments[req->nsegments++] = seg;
        }
        p = seg_end + 1;
    }
    return true;
}

static bool split_query(struct request *req, struct arena *arena, struct sv query,
                        const struct limits *limits, struct restfcgi_error *err)
{
    size_t cap = 1;
    for (size_t i = 0; i < query.len; i++)
        cap += query.ptr[i] == '&';
    if (cap > (size_t)limits->max_params) {
        /* Count real parameters only: empty pieces between '&' are skipped. */
        size_t real = 0;
        for (size_t i = 0; i < query.len; i++)
            real += query.ptr[i] != '&' && (i + 1 == query.len || query.ptr[i + 1] == '&');
        if (real > (size_t)limits->max_params)
            return client_error(err, 400, "too many query parameters (limit %lld)",
                                (long long)limits->max_params);
    }
    req->params = arena_calloc(arena, cap, sizeof *req->params);
    if (!req->params)
        return client_error(err, 500, "out of memory");
    const char *p = query.ptr, *end = p + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        if (pe > p) {
            const char *eq = memchr(p, '=', (size_t)(pe - p));
            struct sv name = {p, (size_t)((eq ? eq : pe) - p)};
            struct sv value = eq ? (struct sv){eq + 1, (size_t)(pe - eq - 1)} : (struct sv){"", 0};
            struct query_param *qp = &req->params[req->nparams];
            if (!decode(arena, name, true, "a query parameter name", &qp->name, err) ||
                !decode(arena, value, true, "a query parameter value", &qp->value, err))
                return false;
            req->nparams++;
        }
        p = pe + 1;
    }
    return true;
}

/* CONTENT_LENGTH: absent is -1, digits only, else a 400. */
static bool parse_content_length(const struct request *req, long long *out,
                                 struct restfcgi_error *err)
{
    bool found;
    struct sv cl = request_env(req, "CONTENT_LENGTH", &found);
    *out = -1;
    if (!found || cl.len == 0)
        return true;
    long long v = 0;
    for (size_t i = 0; i < cl.len; i++) {
        if (cl.ptr[i] < '0' || cl.ptr[i] > '9' || v > (LLONG_MAX - 9) / 10)
            return client_error(err, 400, "invalid Content-Length");
        v = v * 10 + (cl.ptr[i] - '0');
    }
    *out = v;
    return true;
}

/* Reads the body to its end, never more than max_body bytes in memory. */
static bool read_body(struct request *req, struct arena *arena, const struct request_io *io,
                      const struct limits *limits, struct restfcgi_error *err)
{
    long long declared;
    if (!parse_content_length(req, &declared, err))
        return false;
    size_t max = (size_t)limits->max_body;
    if (declared > (long long)max) {
        req->body_unread = true;
        return client_error(err, 413, "request body of %lld bytes exceeds the limit of %zu",
                            declared, max);
    }
    if (!io->read)
        return true;
    size_t want = io->body_ends_at_eof ? max + 1 : (size_t)(declared < 0 ? 0 : declared);
    if (want == 0)
        return true;
    /* Grow by doubling; one extra byte detects a body past max_body. */
    size_t cap = declared > 0 ? (size_t)declared + 1 : 4096;
    if (cap > want)
        cap = want;
    char *buf = arena_alloc(arena, cap);
    size_t len = 0;
    while (buf) {
        if (len == cap) {
            if (cap == want)
                break;
            size_t ncap = cap * 2 < want ? cap * 2 : want;
            char *nbuf = arena_alloc(arena, ncap);
            if (nbuf)
                memcpy(nbuf, buf, len);
            buf = nbuf;
            cap = ncap;
            continue;
        }
        long r = io->read(io->ctx, buf + len, cap - len);
        if (r < 0)
            return client_error(err, 400, "error reading the request body");
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (!buf)
        return client_error(err, 500, "out of memory");
    if (len > max) {
        req->body_unread = true;
        return client_error(err, 413, "request body exceeds the limit of %zu bytes", max);
    }
    if (declared >= 0 && (size_t)declared != len)
        return client_error(err, 400, "request body is %zu bytes, Content-Length said %lld", len,
                            declared);
    req->body = (struct sv){buf, len};
    return true;
}

bool request_parse(struct request *req, struct arena *arena, const struct request_io *io,
                   const char *base_path, const struct limits *limits,
                   struct restfcgi_error *err)
{
    memset(req, 0, sizeof *req);
    req->envp = io->envp;
    req->uri = (struct sv){"", 0};
    req->path = (struct sv){"/", 1};

    bool found;
    req->method_name = request_env(req, "REQUEST_METHOD", &found);
    req->method = HTTP_OTHER;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (sv_eq_cstr(req->method_name, methods[i].name))
            req->method = methods[i].method;
    }
    req->content_type = request_env(req, "CONTENT_TYPE", NULL);
    req->remote_addr = request_env(req, "REMOTE_ADDR", NULL);
    if (!found || req->method_name.len == 0)
        return client_error(err, 400, "missing REQUEST_METHOD");

    req->uri = request_env(req, "REQUEST_URI", &found);
    if (!found || req->uri.len == 0) {
        /* Some CGI hosts send no REQUEST_URI: rebuild it as they would. */
        struct sv script = request_env(req, "SCRIPT_NAME", NULL);
        struct sv info = request_env(req, "PATH_INFO", NULL);
        struct sv qs = request_env(req, "QUERY_STRING", NULL);
        char *u = arena_sprintf(arena, "%.*s%.*s%s%.*s", (int)script.len, script.ptr,
                                (int)info.len, info.ptr, qs.len ? "?" : "", (int)qs.len, qs.ptr);
        if (!u)
            return client_error(err, 500, "out of memory");
        req->uri = sv_from_cstr(u);
        if (req->uri.len == 0)
            req->uri = (struct sv){"/", 1};
    }
    if (req->uri.len > (size_t)limits->max_url)
        return client_error(err, 414, "URI of %zu bytes exceeds the limit of %lld", req->uri.len,
                            (long long)limits->max_url);

    size_t header_bytes = 0;
    for (char **e = req->envp; e && *e; e++) {
        /* Authorization has its own limit (auth.c): an oversized one is a
         * 401 like any other bad credential. */
        if (strncmp(*e, "HTTP_", 5) == 0 && strncmp(*e, "HTTP_AUTHORIZATION=", 19) != 0)
            header_bytes += strlen(*e);
    }
    if (header_bytes > (size_t)limits->max_headers)
        return client_error(err, 431, "request headers of %zu bytes exceed the limit of %lld",
                            header_bytes, (long long)limits->max_headers);

    const char *q = memchr(req->uri.ptr, '?', req->uri.len);
    struct sv path = {req->uri.ptr, q ? (size_t)(q - req->uri.ptr) : req->uri.len};
    struct sv query = q ? (struct sv){q + 1, req->uri.len - path.len - 1} : (struct sv){"", 0};
    const char *hash = memchr(query.ptr, '#', query.len);
    if (hash)
        query.len = (size_t)(hash - query.ptr);
    if (!q && (hash = memchr(path.ptr, '#', path.len)) != NULL)
        path.len = (size_t)(hash - path.ptr);
    if (path.len == 0 || path.ptr[0] != '/')
        return client_error(err, 400, "the request URI must start with '/'");

    struct sv base = sv_from_cstr(base_path);
    if (base.len) {
        if (!sv_starts_with(path, base) || (path.len > base.len && path.ptr[base.len] != '/'))
            return client_error(err, 404, "not under the base path %s", base_path);
        path.ptr += base.len;
        path.len -= base.len;
        if (path.len == 0)
            path = (struct sv){"/", 1};
    }
    req->path = path;
    if (!split_path(req, arena, err) || !split_query(req, arena, query, limits, err))
        return false;
    return read_body(req, arena, io, limits, err);
}
