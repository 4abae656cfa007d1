/* Unit tests of fcgi_app/request.c: the request view built from the CGI
 * params and the body, through a fake struct request_io; every limit at its
 * value and one past it. */
#include "../../../fcgi_app/request.c"

#include "check.h"

/* The body stream: an in-memory buffer handed out piece by piece. */
struct fake_body {
    const char *data;
    size_t len, pos;
    size_t piece; /* at most this many bytes per read call, 0: as many as asked */
    int calls;
    bool fail;    /* every read returns -1 */
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
    if (n)
        memcpy(buf, b->data + b->pos, n);
    b->pos += n;
    return (long)n;
}

/* Small limits so that "at the limit" and "one past it" stay short. */
static struct limits small_limits(void)
{
    return (struct limits){.max_body = 16,
                           .max_depth = 8,
                           .default_pagesize = 10,
                           .max_pagesize = 100,
                           .query_time_ms = 0,
                           .max_url = 64,
                           .max_headers = 64,
                           .max_params = 4};
}

/* One parse: its own arena, limits, body and io (FastCGI-like by default). */
struct fx {
    struct arena arena;
    struct limits limits;
    struct fake_body body;
    struct request_io io;
    struct request req;
    struct restfcgi_error err;
    const char *base;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    arena_init(&f->arena, 0);
    f->limits = small_limits();
    f->io.read = fake_read;
    f->io.ctx = &f->body;
    f->body.data = ""; /* an empty body unless a test sets one */
    f->io.body_ends_at_eof = true;
    f->base = "";
}

static void fx_set_body(struct fx *f, const char *data, size_t len, size_t piece)
{
    f->body = (struct fake_body){.data = data, .len = len, .piece = piece};
}

static bool fx_parse(struct fx *f, char **envp)
{
    f->io.envp = envp;
    memset(&f->err, 0, sizeof f->err);
    bool ok = request_parse(&f->req, &f->arena, &f->io, f->base, &f->limits, &f->err);
    if (!ok)
        CHECK_INT(f->err.domain, RESTFCGI_ERR_REQUEST);
    return ok;
}

static void fx_done(struct fx *f) { arena_destroy(&f->arena); }

/* The status of "GET uri" under base (200 when the parse succeeds). */
static int status_of_base(const char *uri, const char *base)
{
    char env_uri[512];
    snprintf(env_uri, sizeof env_uri, "REQUEST_URI=%s", uri);
    char *envp[] = {"REQUEST_METHOD=GET", env_uri, NULL};
    struct fx f;
    fx_init(&f);
    f.limits.max_url = 400;
    f.base = base;
    int status = fx_parse(&f, envp) ? 200 : f.err.code;
    fx_done(&f);
    return status;
}

static int status_of(const char *uri) { return status_of_base(uri, ""); }

/* ---- method ---- */

TEST_CASE(method_get)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/ping", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.method, HTTP_GET);
    CHECK_SV(f.req.method_name, "GET");
    CHECK_SV(f.req.uri, "/ping");
    CHECK_SV(f.req.path, "/ping");
    CHECK_INT(f.req.nsegments, 1);
    CHECK_INT(f.req.nparams, 0);
    CHECK_INT(f.req.body.len, 0);
    CHECK(!f.req.body_unread);
    CHECK(f.req.envp == envp);
    fx_done(&f);
}

TEST_CASE(method_patch)
{
    char *envp[] = {"REQUEST_METHOD=PATCH", "REQUEST_URI=/db/coll/doc", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.method, HTTP_PATCH);
    CHECK_SV(f.req.method_name, "PATCH");
    fx_done(&f);
}

TEST_CASE(method_all_known_and_unknown)
{
    const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                           "BREW", "get", "GETX", "PROPFIND"};
    enum http_method want[] = {HTTP_GET,    HTTP_HEAD,    HTTP_POST,  HTTP_PUT,
                               HTTP_PATCH,  HTTP_DELETE,  HTTP_OPTIONS, HTTP_OTHER,
                               HTTP_OTHER,  HTTP_OTHER,   HTTP_OTHER};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char m[64];
        snprintf(m, sizeof m, "REQUEST_METHOD=%s", names[i]);
        char *envp[] = {m, "REQUEST_URI=/", NULL};
        struct fx f;
        fx_init(&f);
        CHECK(fx_parse(&f, envp));
        CHECK_INT(f.req.method, want[i]);
        CHECK_SV(f.req.method_name, names[i]); /* kept as received */
        fx_done(&f);
    }
}

TEST_CASE(method_missing_400)
{
    char *envp[] = {"REQUEST_URI=/ping", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    CHECK(f.err.message[0] != '\0');
    CHECK_INT(f.body.calls, 0);
    fx_done(&f);
}

TEST_CASE(method_empty_400)
{
    char *envp[] = {"REQUEST_METHOD=", "REQUEST_URI=/ping", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);
}

TEST_CASE(method_and_uri_kept_on_error)
{
    char *envp[] = {"REQUEST_METHOD=DELETE", "REQUEST_URI=/db/%zz", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    CHECK_INT(f.req.method, HTTP_DELETE);
    CHECK_SV(f.req.uri, "/db/%zz");
    fx_done(&f);
}

/* ---- URI and base path ---- */

TEST_CASE(uri_rebuilt_without_request_uri)
{
    char *envp[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/db/coll",
                    "QUERY_STRING=page=2&x=a+b", NULL};
    struct fx f;
    fx_init(&f);
    f.base = "/api";
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.uri, "/api/db/coll?page=2&x=a+b");
    CHECK_SV(f.req.path, "/db/coll");
    CHECK_INT(f.req.nsegments, 2);
    if (f.req.nsegments == 2) {
        CHECK_SV(f.req.segments[0], "db");
        CHECK_SV(f.req.segments[1], "coll");
    }
    CHECK_INT(f.req.nparams, 2);
    CHECK_SV(request_query(&f.req, "page", NULL), "2");
    CHECK_SV(request_query(&f.req, "x", NULL), "a b");
    fx_done(&f);
}

TEST_CASE(uri_rebuilt_without_query_string)
{
    char *envp[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/db", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.uri, "/db"); /* no '?' when QUERY_STRING is empty */
    CHECK_INT(f.req.nsegments, 1);
    CHECK_INT(f.req.nparams, 0);
    fx_done(&f);
}

TEST_CASE(uri_rebuilt_empty_is_root)
{
    char *envp[] = {"REQUEST_METHOD=GET", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.uri, "/");
    CHECK_INT(f.req.nsegments, 0);
    fx_done(&f);
}

TEST_CASE(base_path_stripped)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/db/coll", NULL};
    struct fx f;
    fx_init(&f);
    f.base = "/api";
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.uri, "/api/db/coll");
    CHECK_SV(f.req.path, "/db/coll");
    CHECK_INT(f.req.nsegments, 2);
    if (f.req.nsegments == 2) {
        CHECK_SV(f.req.segments[0], "db");
        CHECK_SV(f.req.segments[1], "coll");
    }
    fx_done(&f);
}

TEST_CASE(base_path_prefix_of_other_name_404)
{
    CHECK_INT(status_of_base("/apix/db", "/api"), 404);
    CHECK_INT(status_of_base("/apix", "/api"), 404);
    CHECK_INT(status_of_base("/ap", "/api"), 404);
    CHECK_INT(status_of_base("/db/coll", "/api"), 404);
    CHECK_INT(status_of_base("/API/db", "/api"), 404);
}

TEST_CASE(base_path_alone_is_root)
{
    const char *uris[] = {"/api", "/api/", "/api?x=1", "/api//"};
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        char u[64];
        snprintf(u, sizeof u, "REQUEST_URI=%s", uris[i]);
        char *envp[] = {"REQUEST_METHOD=GET", u, NULL};
        struct fx f;
        fx_init(&f);
        f.base = "/api";
        CHECK(fx_parse(&f, envp));
        CHECK_INT(f.req.nsegments, 0);
        CHECK(f.req.path.len >= 1 && f.req.path.ptr[0] == '/');
        fx_done(&f);
    }
}

TEST_CASE(uri_must_start_with_slash)
{
    CHECK_INT(status_of("db/coll"), 400);
    CHECK_INT(status_of("?x=1"), 400);
}

/* ---- path segments ---- */

TEST_CASE(segment_encoded_slash_stays_inside)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/db/a%2Fb/c%2fd", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nsegments, 3);
    if (f.req.nsegments == 3) {
        CHECK_SV(f.req.segments[0], "db");
        CHECK_SV(f.req.segments[1], "a/b");
        CHECK_SV(f.req.segments[2], "c/d");
    }
    fx_done(&f);
}

TEST_CASE(segment_space_decoded)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%20b/c+d", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nsegments, 2);
    if (f.req.nsegments == 2) {
        CHECK_SV(f.req.segments[0], "a b");
        CHECK_SV(f.req.segments[1], "c+d"); /* '+' is a space only in the query */
    }
    CHECK_SV(f.req.path, "/a%20b/c+d"); /* the raw path stays raw */
    fx_done(&f);
}

TEST_CASE(empty_segments_dropped)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=//db///coll/", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nsegments, 2);
    if (f.req.nsegments == 2) {
        CHECK_SV(f.req.segments[0], "db");
        CHECK_SV(f.req.segments[1], "coll");
    }
    fx_done(&f);
}

TEST_CASE(root_has_no_segments)
{
    CHECK_INT(status_of("/"), 200);
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=///", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nsegments, 0);
    fx_done(&f);
}

TEST_CASE(path_nul_400)
{
    CHECK_INT(status_of("/db%00x"), 400);
    CHECK_INT(status_of("/%00"), 400);
    CHECK_INT(status_of("/db/coll/%00"), 400);
}

TEST_CASE(path_bad_escape_400)
{
    CHECK_INT(status_of("/db/%zz"), 400);
    CHECK_INT(status_of("/db/%g0"), 400);
    CHECK_INT(status_of("/db/%0g"), 400);
    CHECK_INT(status_of("/db/x%-1"), 400);
}

TEST_CASE(path_truncated_escape_400)
{
    CHECK_INT(status_of("/db/%4"), 400);
    CHECK_INT(status_of("/db/%"), 400);
    CHECK_INT(status_of("/db/%4/x"), 400); /* cut by the next '/' */
    CHECK_INT(status_of("/db/%4?x=1"), 400);
}

TEST_CASE(path_invalid_utf8_400)
{
    CHECK_INT(status_of("/%C3%28"), 400);
    CHECK_INT(status_of("/%FF"), 400);
    CHECK_INT(status_of("/db/%C3"), 400);      /* lead byte alone */
    CHECK_INT(status_of("/db/%80abc"), 400);   /* continuation byte alone */
    CHECK_INT(status_of("/db/%E2%82"), 400);   /* three-byte sequence cut */
}

TEST_CASE(path_valid_multibyte_utf8)
{
    char *envp[] = {"REQUEST_METHOD=GET",
                    "REQUEST_URI=/%C3%A9t%C3%A9/%E2%82%AC/%F0%9F%98%80/\xc3\xa9", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nsegments, 4);
    if (f.req.nsegments == 4) {
        CHECK_SV(f.req.segments[0], "\xc3\xa9t\xc3\xa9");
        CHECK_SV(f.req.segments[1], "\xe2\x82\xac");
        CHECK_SV(f.req.segments[2], "\xf0\x9f\x98\x80");
        CHECK_SV(f.req.segments[3], "\xc3\xa9"); /* raw UTF-8 passes too */
    }
    fx_done(&f);
}

TEST_CASE(dot_segments_400)
{
    CHECK_INT(status_of("/db/../x"), 400);
    CHECK_INT(status_of("/db/./x"), 400);
    CHECK_INT(status_of("/.."), 400);
    CHECK_INT(status_of("/."), 400);
    CHECK_INT(status_of("/db/coll/.."), 400);
    CHECK_INT(status_of("/db/%2E%2E/x"), 400);
    CHECK_INT(status_of("/db/%2e%2e"), 400);
    CHECK_INT(status_of("/db/.%2E"), 400);
    CHECK_INT(status_of("/db/%2E"), 400);
    /* Names merely containing dots are fine. */
    CHECK_INT(status_of("/db/..x"), 200);
    CHECK_INT(status_of("/db/.x"), 200);
    CHECK_INT(status_of("/db/..."), 200);
    CHECK_INT(status_of("/db/a.b"), 200);
}

/* ---- query ---- */

TEST_CASE(query_decoded)
{
    char *envp[] = {"REQUEST_METHOD=GET",
                    "REQUEST_URI=/db?filter=%7B%22a%22%3A1%7D&x=a%26b&s=a+b%2Bc&n%61me=v", NULL};
    struct fx f;
    fx_init(&f);
    f.limits.max_url = 200;
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nparams, 4);
    if (f.req.nparams == 4) {
        CHECK_SV(f.req.params[0].name, "filter");
        CHECK_SV(f.req.params[0].value, "{\"a\":1}");
        CHECK_SV(f.req.params[1].name, "x");
        CHECK_SV(f.req.params[1].value, "a&b"); /* %26 stays inside the value */
        CHECK_SV(f.req.params[2].name, "s");
        CHECK_SV(f.req.params[2].value, "a b+c"); /* '+' is a space, %2B a plus */
        CHECK_SV(f.req.params[3].name, "name");   /* names are decoded too */
        CHECK_SV(f.req.params[3].value, "v");
    }
    CHECK_INT(f.req.nsegments, 1);
    fx_done(&f);
}

TEST_CASE(query_repeated_params_in_order)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/db/c?filter=1&page=2&filter=3", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nparams, 3);
    if (f.req.nparams == 3) {
        CHECK_SV(f.req.params[0].name, "filter");
        CHECK_SV(f.req.params[0].value, "1");
        CHECK_SV(f.req.params[1].name, "page");
        CHECK_SV(f.req.params[2].name, "filter");
        CHECK_SV(f.req.params[2].value, "3");
    }
    /* request_query gives the first. */
    CHECK_SV(request_query(&f.req, "filter", NULL), "1");
    fx_done(&f);
}

TEST_CASE(query_param_without_equals)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/db?count&a=&b==x", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nparams, 3);
    if (f.req.nparams == 3) {
        CHECK_SV(f.req.params[0].name, "count");
        CHECK_SV(f.req.params[0].value, "");
        CHECK_SV(f.req.params[1].name, "a");
        CHECK_SV(f.req.params[1].value, "");
        CHECK_SV(f.req.params[2].name, "b");
        CHECK_SV(f.req.params[2].value, "=x"); /* split at the first '=' */
    }
    bool found = false;
    CHECK_SV(request_query(&f.req, "count", &found), "");
    CHECK(found);
    fx_done(&f);
}

TEST_CASE(query_empty_pieces_and_fragment_skipped)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/db?&&a=1&&b=2&#frag&c=3", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    CHECK_INT(f.req.nparams, 2);
    if (f.req.nparams == 2) {
        CHECK_SV(f.req.params[0].name, "a");
        CHECK_SV(f.req.params[1].name, "b");
        CHECK_SV(f.req.params[1].value, "2");
    }
    fx_done(&f);
}

TEST_CASE(query_nul_400)
{
    CHECK_INT(status_of("/db?x=%00"), 400);
    CHECK_INT(status_of("/db?x%00=1"), 400);
    CHECK_INT(status_of("/db?x=a%00b"), 400);
}

TEST_CASE(query_bad_escape_or_utf8_400)
{
    CHECK_INT(status_of("/db?x=%zz"), 400);
    CHECK_INT(status_of("/db?x=%4"), 400);
    CHECK_INT(status_of("/db?%FF=1"), 400);
    CHECK_INT(status_of("/db?x=%C3%28"), 400);
    CHECK_INT(status_of("/db?x=%C3%A9"), 200);
}

TEST_CASE(params_at_limit_ok)
{
    /* max_params = 4 */
    CHECK_INT(status_of("/db?a=1&b=2&c=3&d=4"), 200);
    /* Empty pieces between '&' are not parameters. */
    CHECK_INT(status_of("/db?a=1&&b=2&c=3&&d=4&"), 200);
    CHECK_INT(status_of("/db?&&&&&&&&"), 200);
    CHECK_INT(status_of("/db?a&b&c&d"), 200);
}

TEST_CASE(params_over_limit_400)
{
    CHECK_INT(status_of("/db?a=1&b=2&c=3&d=4&e=5"), 400);
    CHECK_INT(status_of("/db?a&b&c&d&e"), 400);
    CHECK_INT(status_of("/db?a=1&&b=2&c=3&&d=4&e"), 400);
    CHECK_INT(status_of("/db?f=1&f=1&f=1&f=1&f=1"), 400);
}

/* ---- limits on the URI and headers ---- */

/* "/aaa...": a URI of exactly len bytes. */
static int status_of_uri_len(size_t len, const struct limits *limits)
{
    char uri[600] = "REQUEST_URI=";
    size_t off = strlen(uri);
    memset(uri + off, 'a', len);
    uri[off] = '/';
    uri[off + len] = '\0';
    char *envp[] = {"REQUEST_METHOD=GET", uri, NULL};
    struct fx f;
    fx_init(&f);
    f.limits = *limits;
    int status = fx_parse(&f, envp) ? 200 : f.err.code;
    fx_done(&f);
    return status;
}

TEST_CASE(url_at_limit_ok)
{
    struct limits l = small_limits(); /* max_url = 64 */
    CHECK_INT(status_of_uri_len(64, &l), 200);
    CHECK_INT(status_of_uri_len(63, &l), 200);
    l.max_url = 256;
    CHECK_INT(status_of_uri_len(256, &l), 200);
}

TEST_CASE(url_over_limit_414)
{
    struct limits l = small_limits();
    CHECK_INT(status_of_uri_len(65, &l), 414);
    CHECK_INT(status_of_uri_len(500, &l), 414);
    l.max_url = 256;
    CHECK_INT(status_of_uri_len(257, &l), 414);
    /* The query counts: 60 bytes of path and 5 of query make 65. */
    char *envp[] = {"REQUEST_METHOD=GET",
                    "REQUEST_URI=/23456789012345678901234567890123456789012345678901234567890?a=12",
                    NULL};
    struct fx f;
    fx_init(&f);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 414);
    CHECK_INT(f.req.method, HTTP_GET);
    CHECK_INT(f.req.uri.len, 65);
    fx_done(&f);
}

TEST_CASE(url_rebuilt_over_limit_414)
{
    char info[100] = "PATH_INFO=/";
    memset(info + 11, 'p', 60);
    info[71] = '\0';
    char *envp[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", info, NULL};
    struct fx f;
    fx_init(&f);
    f.base = "/api";
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 414); /* 4 + 61 = 65 bytes */
    fx_done(&f);
}

/* HTTP_* params measured as their "NAME=VALUE" strings: two of 32 bytes
 * make 64, max_headers; the other params do not count. */
TEST_CASE(headers_at_limit_ok)
{
    char h1[40] = "HTTP_A=", h2[40] = "HTTP_B=";
    memset(h1 + 7, 'a', 25);
    memset(h2 + 7, 'b', 25);
    char other[200] = "SERVER_SOFTWARE=";
    memset(other + 16, 's', 150);
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", h1, other, h2,
                    "CONTENT_TYPE=application/json", NULL};
    struct fx f;
    fx_init(&f);
    CHECK_INT(strlen(h1) + strlen(h2), 64);
    CHECK(fx_parse(&f, envp));
    fx_done(&f);
}

TEST_CASE(headers_over_limit_431)
{
    char h1[40] = "HTTP_A=", h2[40] = "HTTP_B=";
    memset(h1 + 7, 'a', 25);
    memset(h2 + 7, 'b', 26);
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", h1, h2, NULL};
    struct fx f;
    fx_init(&f);
    CHECK_INT(strlen(h1) + strlen(h2), 65);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 431);
    fx_done(&f);

    /* One big header alone. */
    char big[200] = "HTTP_COOKIE=";
    memset(big + 12, 'c', 150);
    char *e2[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", big, NULL};
    fx_init(&f);
    CHECK(!fx_parse(&f, e2));
    CHECK_INT(f.err.code, 431);
    fx_done(&f);
}

TEST_CASE(request_header_lookup)
{
    char *envp[] = {"REQUEST_METHOD=POST",
                    "REQUEST_URI=/db/coll",
                    "HTTP_AUTHORIZATION=Basic eDp5",
                    "CONTENT_TYPE=application/json",
                    "CONTENT_LENGTH=0",
                    "HTTP_IF_MATCH=abc",
                    "HTTP_X=no",
                    "REMOTE_ADDR=10.0.0.1",
                    NULL};
    struct fx f;
    fx_init(&f);
    f.limits.max_headers = 1024;
    CHECK(fx_parse(&f, envp));
    bool found = false;
    CHECK_SV(request_header(&f.req, "Authorization", &found), "Basic eDp5");
    CHECK(found);
    found = false;
    CHECK_SV(request_header(&f.req, "Content-Type", &found), "application/json");
    CHECK(found);
    CHECK_SV(request_header(&f.req, "content-type", NULL), "application/json");
    CHECK_SV(request_header(&f.req, "Content-Length", &found), "0");
    CHECK(found);
    CHECK_SV(request_header(&f.req, "If-Match", &found), "abc");
    CHECK(found);
    CHECK_SV(request_header(&f.req, "if-match", &found), "abc");
    CHECK(found);
    CHECK_SV(request_header(&f.req, "If-None-Match", &found), "");
    CHECK(!found);
    /* A prefix of a param name is not that param. */
    request_header(&f.req, "Authorizatio", &found);
    CHECK(!found);
    /* Names too long for the lookup buffer are simply absent. */
    char longname[300];
    memset(longname, 'X', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    found = true;
    request_header(&f.req, longname, &found);
    CHECK(!found);
    CHECK_SV(f.req.content_type, "application/json");
    CHECK_SV(f.req.remote_addr, "10.0.0.1");
    CHECK_SV(request_env(&f.req, "REMOTE_ADDR", &found), "10.0.0.1");
    CHECK(found);
    fx_done(&f);
}

TEST_CASE(request_query_found_and_absent)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/db/coll?page=3&pagesize=", NULL};
    struct fx f;
    fx_init(&f);
    CHECK(fx_parse(&f, envp));
    bool found = false;
    CHECK_SV(request_query(&f.req, "page", &found), "3");
    CHECK(found);
    found = false;
    CHECK_SV(request_query(&f.req, "pagesize", &found), "");
    CHECK(found);
    found = true;
    CHECK_SV(request_query(&f.req, "filter", &found), "");
    CHECK(!found);
    found = true;
    request_query(&f.req, "pag", &found); /* a prefix is another name */
    CHECK(!found);
    CHECK_SV(request_query(&f.req, "nothing", NULL), ""); /* found may be NULL */
    fx_done(&f);
}

/* ---- body ---- */

#define BODY16 "0123456789abcdef" /* max_body bytes */

TEST_CASE(body_at_limit_ok)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, BODY16, 16, 0);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.body, BODY16);
    CHECK(!f.req.body_unread);
    fx_done(&f);

    char *e2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=16", NULL};
    fx_init(&f);
    fx_set_body(&f, BODY16, 16, 0);
    CHECK(fx_parse(&f, e2));
    CHECK_SV(f.req.body, BODY16);
    fx_done(&f);
}

TEST_CASE(body_over_limit_without_length_413)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, BODY16 "X", 17, 0);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 413);
    CHECK(f.req.body_unread);
    CHECK(f.body.pos <= 17); /* never more than max_body + 1 read */
    fx_done(&f);

    /* Far larger, in pieces: reading stops at max_body + 1. */
    char big[1000];
    memset(big, 'z', sizeof big);
    fx_init(&f);
    fx_set_body(&f, big, sizeof big, 5);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 413);
    CHECK(f.req.body_unread);
    CHECK_INT(f.body.pos, 17);
    fx_done(&f);
}

TEST_CASE(body_length_over_limit_413_without_read)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=17", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, BODY16 "X", 17, 0);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 413);
    CHECK(f.req.body_unread);
    CHECK_INT(f.body.calls, 0);
    fx_done(&f);

    char *e2[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=99999999999",
                  NULL};
    fx_init(&f);
    f.io.body_ends_at_eof = false; /* CGI-like: same */
    fx_set_body(&f, "x", 1, 0);
    CHECK(!fx_parse(&f, e2));
    CHECK_INT(f.err.code, 413);
    CHECK(f.req.body_unread);
    CHECK_INT(f.body.calls, 0);
    fx_done(&f);
}

TEST_CASE(body_length_smaller_than_body_400)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=3", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, "hello", 5, 0);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    CHECK(!f.req.body_unread);
    fx_done(&f);

    char *e2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=0", NULL};
    fx_init(&f);
    fx_set_body(&f, "hello", 5, 0);
    CHECK(!fx_parse(&f, e2));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);
}

TEST_CASE(body_length_larger_than_body_400)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=9", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, "hello", 5, 0);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);

    /* CGI-like: the stream ends before CONTENT_LENGTH bytes. */
    fx_init(&f);
    f.io.body_ends_at_eof = false;
    fx_set_body(&f, "hello", 5, 2);
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);
}

TEST_CASE(body_length_not_digits_400)
{
    const char *bad[] = {"12abc", "-1", "+5", " 5", "5 ", "0x10", "1e3",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cl[64];
        snprintf(cl, sizeof cl, "CONTENT_LENGTH=%s", bad[i]);
        char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", cl, NULL};
        struct fx f;
        fx_init(&f);
        fx_set_body(&f, "12345", 5, 0);
        CHECK(!fx_parse(&f, envp));
        CHECK_INT(f.err.code, 400);
        CHECK_INT(f.body.calls, 0);
        fx_done(&f);
    }
}

TEST_CASE(body_empty_length_is_absent)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, "abc", 3, 0);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.body, "abc");
    fx_done(&f);
}

TEST_CASE(cgi_reads_exactly_content_length)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=4", NULL};
    struct fx f;
    fx_init(&f);
    f.io.body_ends_at_eof = false;
    fx_set_body(&f, "abcdefgh", 8, 0);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.body, "abcd");
    CHECK_INT(f.body.pos, 4); /* the rest stays unread */
    fx_done(&f);

    /* Same in 1-byte pieces. */
    fx_init(&f);
    f.io.body_ends_at_eof = false;
    fx_set_body(&f, "abcdefgh", 8, 1);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.body, "abcd");
    CHECK_INT(f.body.pos, 4);
    fx_done(&f);

    /* No CONTENT_LENGTH: no body at all, nothing read. */
    char *e2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    fx_init(&f);
    f.io.body_ends_at_eof = false;
    fx_set_body(&f, "abcdefgh", 8, 0);
    CHECK(fx_parse(&f, e2));
    CHECK_INT(f.req.body.len, 0);
    CHECK_INT(f.body.calls, 0);
    fx_done(&f);
}

TEST_CASE(read_error_400)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, "x", 1, 0);
    f.body.fail = true;
    CHECK(!fx_parse(&f, envp));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);

    char *e2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=1", NULL};
    fx_init(&f);
    f.io.body_ends_at_eof = false;
    fx_set_body(&f, "x", 1, 0);
    f.body.fail = true;
    CHECK(!fx_parse(&f, e2));
    CHECK_INT(f.err.code, 400);
    fx_done(&f);
}

TEST_CASE(body_one_byte_per_read)
{
    char *envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    struct fx f;
    fx_init(&f);
    fx_set_body(&f, "abcdefghijklmn", 14, 1);
    CHECK(fx_parse(&f, envp));
    CHECK_SV(f.req.body, "abcdefghijklmn");
    CHECK(f.body.calls >= 15); /* 14 bytes and the end */
    fx_done(&f);

    /* Past the first buffer so that it grows: 10000 bytes, 1 per call. */
    enum { N = 10000 };
    static char big[N + 1];
    for (size_t i = 0; i < N; i++)
        big[i] = (char)('a' + i % 26);
    char *e2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", NULL};
    fx_init(&f);
    f.limits.max_body = 20000;
    fx_set_body(&f, big, N, 1);
    CHECK(fx_parse(&f, e2));
    CHECK_INT(f.req.body.len, N);
    CHECK(f.req.body.len == N && memcmp(f.req.body.ptr, big, N) == 0);
    fx_done(&f);

    /* The same with a CONTENT_LENGTH, FastCGI-like and CGI-like. */
    char *e3[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/db/coll", "CONTENT_LENGTH=10000", NULL};
    for (int cgi = 0; cgi < 2; cgi++) {
        fx_init(&f);
        f.limits.max_body = 20000;
        f.io.body_ends_at_eof = !cgi;
        fx_set_body(&f, big, N, 1);
        CHECK(fx_parse(&f, e3));
        CHECK(f.req.body.len == N && memcmp(f.req.body.ptr, big, N) == 0);
        fx_done(&f);
    }
}

TEST_CASE(method_name_helper)
{
    CHECK_STR(http_method_name(HTTP_GET), "GET");
    CHECK_STR(http_method_name(HTTP_PATCH), "PATCH");
    CHECK_STR(http_method_name(HTTP_OPTIONS), "OPTIONS");
    CHECK_STR(http_method_name(HTTP_OTHER), "OTHER");
}
