/* Unit tests of fcgi_app/request.c: the request view built from CGI params
 * and the body, with every limit at and one past its value. */
#include "../../../fcgi_app/request.c"

#include "check.h"

struct fake_body {
    const char *data;
    size_t len, pos;
    size_t piece; /* bytes per read call, 0: as many as asked */
    int calls;
    bool fail;
};

static long fake_read(void *ctx, char *buf, size_t len)
{
    struct fake_body *b = ctx;
    b->calls++;
    if (b->fail)
        return -1;
    size_t n = b->len - b->pos;
    if (n > len)
        n = len;
    if (b->piece && n > b->piece)
        n = b->piece;
    memcpy(buf, b->data + b->pos, n);
    b->pos += n;
    return (long)n;
}

static struct limits test_limits(void)
{
    return (struct limits){.max_body = 16, .max_depth = 8, .default_pagesize = 10,
                           .max_pagesize = 100, .max_url = 64, .max_headers = 64,
                           .max_params = 4};
}

/* Parses with envp (NULL-terminated) and an optional body; FastCGI-like. */
static bool parse(struct request *req, struct arena *a, char **envp, struct fake_body *body,
                  const char *base, struct restfcgi_error *err)
{
    struct limits l = test_limits();
    struct request_io io = {.envp = envp, .read = body ? fake_read : NULL, .ctx = body,
                            .body_ends_at_eof = true};
    memset(err, 0, sizeof *err);
    return request_parse(req, a, &io, base, &l, err);
}

/* The status of parsing GET uri. */
static int status_of(const char *uri)
{
    char env_uri[256];
    snprintf(env_uri, sizeof env_uri, "REQUEST_URI=%s", uri);
    char *envp[] = {"REQUEST_METHOD=GET", env_uri, NULL};
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    bool ok = parse(&req, &a, envp, NULL, "", &err);
    arena_destroy(&a);
    return ok ? 200 : err.code;
}

TEST_CASE(methods)
{
    const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"};
    enum http_method want[] = {HTTP_GET,   HTTP_HEAD,   HTTP_POST,    HTTP_PUT,
                               HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS, HTTP_OTHER};
    for (size_t i = 0; i < 8; i++) {
        char m[64];
        snprintf(m, sizeof m, "REQUEST_METHOD=%s", names[i]);
        char *envp[] = {m, "REQUEST_URI=/", NULL};
        struct arena a;
        arena_init(&a, 0);
        struct request req;
        struct restfcgi_error err;
        CHECK(parse(&req, &a, envp, NULL, "", &err));
        CHECK_INT(req.method, want[i]);
        CHECK_SV(req.method_name, names[i]);
        arena_destroy(&a);
    }
}

TEST_CASE(missing_method)
{
    char *envp[] = {"REQUEST_URI=/ping", NULL};
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    CHECK(!parse(&req, &a, envp, NULL, "", &err));
    CHECK_INT(err.code, 400);
    CHECK_INT(err.domain, RESTFCGI_ERR_REQUEST);
    arena_destroy(&a);
}

TEST_CASE(uri_rebuilt_without_request_uri)
{
    char *envp[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/db/coll",
                    "QUERY_STRING=page=2", NULL};
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    CHECK(parse(&req, &a, envp, NULL, "/api", &err));
    CHECK_SV(req.uri, "/api/db/coll?page=2");
    CHECK_INT(req.nsegments, 2);
    CHECK_SV(req.segments[0], "db");
    CHECK_SV(req.segments[1], "coll");
    CHECK_SV(request_query(&req, "page", NULL), "2");
    arena_destroy(&a);
}

TEST_CASE(base_path)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    char *e1[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/db/coll", NULL};
    CHECK(parse(&req, &a, e1, NULL, "/api", &err));
    CHECK_INT(req.nsegments, 2);
    CHECK_SV(req.path, "/db/coll");
    char *e2[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/apix/db", NULL};
    CHECK(!parse(&req, &a, e2, NULL, "/api", &err));
    CHECK_INT(err.code, 404);
    char *e3[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api", NULL};
    CHECK(parse(&req, &a, e3, NULL, "/api", &err));
    CHECK_INT(req.nsegments, 0);
    CHECK_SV(req.path, "/");
    char *e4[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api?x=1", NULL};
    CHECK(parse(&req, &a, e4, NULL, "/api", &err));
    CHECK_INT(req.nsegments, 0);
    arena_destroy(&a);
}

TEST_CASE(segments_decoded)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=//db///a%2Fb/x%20y/%C3%A9/", NULL};
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    CHECK(parse(&req, &a, envp, NULL, "", &err));
    CHECK_INT(req.nsegments, 4);
    if (req.nsegments == 4) {
        CHECK_SV(req.segments[0], "db");
        CHECK_SV(req.segments[1], "a/b"); /* %2F stays inside its segment */
        CHECK_SV(req.segments[2], "x y");
        CHECK_SV(req.segments[3], "\xc3\xa9");
    }
    arena_destroy(&a);
}

TEST_CASE(bad_paths)
{
    CHECK_INT(status_of("/db%00x"), 400);
    CHECK_INT(status_of("/db/%zz"), 400);
    CHECK_INT(status_of("/db/%4"), 400);
    CHECK_INT(status_of("/db/%"), 400);
    CHECK_INT(status_of("/%C3%28"), 400);
    CHECK_INT(status_of("/%FF"), 400);
    CHECK_INT(status_of("/%ED%A0%80"), 400); /* a UTF-16 surrogate */
    CHECK_INT(status_of("/db/../x"), 400);
    CHECK_INT(status_of("/db/./x"), 400);
    CHECK_INT(status_of("/db/%2E%2E/x"), 400);
    CHECK_INT(status_of("db/x"), 400);
    CHECK_INT(status_of("/db/..x"), 200);
    CHECK_INT(status_of("/%E2%82%AC"), 200);
}

TEST_CASE(query_params)
{
    char *envp[] = {"REQUEST_METHOD=GET",
                    "REQUEST_URI=/db?filter=%7B%22a%22%3A1%7D&filter=b+c&flag&x=a%26b&&", NULL};
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    CHECK(parse(&req, &a, envp, NULL, "", &err));
    CHECK_INT(req.nparams, 4);
    if (req.nparams == 4) {
        CHECK_SV(req.params[0].name, "filter");
        CHECK_SV(req.params[0].value, "{\"a\":1}");
        CHECK_SV(req.params[1].name, "filter");
        CHECK_SV(req.params[1].value, "b c");
        CHECK_SV(req.params[2].name, "flag");
        CHECK_SV(req.params[2].value, "");
        CHECK_SV(req.params[3].value, "a&b");
    }
    bool found;
    CHECK_SV(request_query(&req, "filter", &found), "{\"a\":1}");
    CHECK(found);
    request_query(&req, "nope", &found);
    CHECK(!found);
    arena_destroy(&a);
    CHECK_INT(status_of("/db?x=%00"), 400);
    CHECK_INT(status_of("/db?%FF=1"), 400);
}

TEST_CASE(params_limit)
{
    CHECK_INT(status_of("/db?a=1&b=2&c=3&d=4"), 200);
    CHECK_INT(status_of("/db?a=1&&b=2&c=3&&d=4&"), 200);
    CHECK_INT(status_of("/db?a=1&b=2&c=3&d=4&e=5"), 400);
}

TEST_CASE(url_limit)
{
    char uri[80];
    memset(uri, 'a', sizeof uri);
    uri[0] = '/';
    uri[64] = '\0';
    CHECK_INT(status_of(uri), 200); /* max_url = 64 */
    uri[64] = 'a';
    uri[65] = '\0';
    CHECK_INT(status_of(uri), 414);
}

TEST_CASE(header_limit_and_lookup)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_AUTHORIZATION=Basic eDp5",
                    "CONTENT_TYPE=application/json", "HTTP_IF_MATCH=abc", NULL};
    CHECK(parse(&req, &a, envp, NULL, "", &err));
    bool found;
    CHECK_SV(request_header(&req, "Authorization", &found), "Basic eDp5");
    CHECK(found);
    CHECK_SV(request_header(&req, "content-type", &found), "application/json");
    CHECK_SV(request_header(&req, "If-Match", &found), "abc");
    request_header(&req, "If-None-Match", &found);
    CHECK(!found);
    /* 64 bytes of HTTP_* params pass, 65 do not (max_headers = 64). */
    char h[80] = "HTTP_X=";
    memset(h + 7, 'v', 57);
    h[64] = '\0';
    char *e2[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", h, NULL};
    CHECK(parse(&req, &a, e2, NULL, "", &err));
    h[64] = 'v';
    h[65] = '\0';
    CHECK(!parse(&req, &a, e2, NULL, "", &err));
    CHECK_INT(err.code, 431);
    arena_destroy(&a);
}

/* Body tests: POST with the given CONTENT_LENGTH (NULL: none). */
static int body_status(const char *content_length, const char *data, size_t piece,
                       struct fake_body *out, struct request *req, struct arena *a)
{
    char cl[64];
    snprintf(cl, sizeof cl, "CONTENT_LENGTH=%s", content_length ? content_length : "");
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", content_length ? cl : NULL,
                    NULL};
    *out = (struct fake_body){.data = data, .len = strlen(data), .piece = piece};
    struct restfcgi_error err;
    return parse(req, a, envp, out, "", &err) ? 200 : err.code;
}

TEST_CASE(body_at_and_past_limit)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct fake_body b;
    CHECK_INT(body_status("16", "0123456789abcdef", 0, &b, &req, &a), 200);
    CHECK_SV(req.body, "0123456789abcdef");
    CHECK_INT(body_status(NULL, "0123456789abcdef", 0, &b, &req, &a), 200);
    CHECK_SV(req.body, "0123456789abcdef");
    CHECK_INT(body_status(NULL, "0123456789abcdefX", 0, &b, &req, &a), 413);
    CHECK(req.body_unread);
    /* A declared body past the limit is refused before any read. */
    CHECK_INT(body_status("17", "0123456789abcdefX", 0, &b, &req, &a), 413);
    CHECK_INT(b.calls, 0);
    CHECK(req.body_unread);
    arena_destroy(&a);
}

TEST_CASE(body_length_mismatch)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct fake_body b;
    CHECK_INT(body_status("3", "hello", 0, &b, &req, &a), 400);
    CHECK_INT(body_status("9", "hello", 0, &b, &req, &a), 400);
    CHECK_INT(body_status("12abc", "hello", 0, &b, &req, &a), 400);
    CHECK_INT(body_status("-1", "hello", 0, &b, &req, &a), 400);
    CHECK_INT(body_status("99999999999999999999999", "hello", 0, &b, &req, &a), 400);
    CHECK_INT(body_status("5", "hello", 1, &b, &req, &a), 200);
    CHECK_SV(req.body, "hello");
    CHECK_INT(body_status("", "", 0, &b, &req, &a), 200);
    CHECK_INT(req.body.len, 0);
    arena_destroy(&a);
}

TEST_CASE(body_in_pieces_and_read_error)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct fake_body b;
    CHECK_INT(body_status(NULL, "abcdefghijklmn", 1, &b, &req, &a), 200);
    CHECK_SV(req.body, "abcdefghijklmn");
    CHECK(b.calls >= 14);
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", NULL};
    b = (struct fake_body){.data = "x", .len = 1, .fail = true};
    struct restfcgi_error err;
    CHECK(!parse(&req, &a, envp, &b, "", &err));
    CHECK_INT(err.code, 400);
    arena_destroy(&a);
}

TEST_CASE(cgi_body_reads_content_length_only)
{
    struct arena a;
    arena_init(&a, 0);
    struct request req;
    struct restfcgi_error err;
    struct limits l = test_limits();
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=4", NULL};
    struct fake_body b = {.data = "abcdefgh", .len = 8};
    struct request_io io = {.envp = envp, .read = fake_read, .ctx = &b, .body_ends_at_eof = false};
    CHECK(request_parse(&req, &a, &io, "", &l, &err));
    CHECK_SV(req.body, "abcd");
    CHECK_INT(b.pos, 4);
    arena_destroy(&a);
}

TEST_CASE(method_name_helper)
{
    CHECK_STR(http_method_name(HTTP_PATCH), "PATCH");
    CHECK_STR(http_method_name(HTTP_OTHER), "OTHER");
}
