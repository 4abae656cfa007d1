/* Unit tests of fcgi_app/response.c: the CGI/FastCGI wire format of a
 * response and the JSON error body of SPEC §4. */
#include "../../../fcgi_app/response.c"

#include "check.h"

/* A sink that appends to a buffer; fail_after makes a write fail. */
struct out {
    char data[16384];
    size_t len;
    int writes;
    int fail_at; /* 1-based write call that fails, 0: none */
};

static bool out_write(void *ctx, const void *data, size_t len)
{
    struct out *o = ctx;
    o->writes++;
    if (o->fail_at && o->writes == o->fail_at)
        return false;
    if (o->len + len >= sizeof o->data)
        return false;
    memcpy(o->data + o->len, data, len);
    o->len += len;
    o->data[o->len] = '\0';
    return true;
}

static bool send_to(struct response *r, struct out *o)
{
    memset(o, 0, sizeof *o);
    struct response_sink sink = {.write = out_write, .ctx = o};
    return response_send(r, &sink);
}

/* The header block holds the status line LINE ("Status: ...\r\n"), as the
 * last header: HAProxy takes the last of Status and Location. */
static bool has_status(const struct out *o, const char *line)
{
    const char *end = strstr(o->data, "\r\n\r\n");
    const char *at = strstr(o->data, line);
    if (!end || !at || at > end)
        return false;
    const char *next = strstr(at, "\r\n");
    bool first = at == o->data || at[-1] == '\n';
    /* Only Content-Type and Content-Length may follow it. */
    for (next += 2; next < end + 2; next = strstr(next, "\r\n") + 2) {
        if (strncmp(next, "Content-Type: ", 14) != 0 && strncmp(next, "Content-Length: ", 16) != 0)
            return false;
    }
    return first;
}

/* A whole header line LINE (without its CRLF) in the header block. */
static bool has_line(const struct out *o, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = o->data; p && *p; p = strstr(p, "\r\n")) {
        if (p != o->data)
            p += 2;
        if (strncmp(p, "\r\n", 2) == 0)
            return false; /* the blank line: end of the headers */
        if (strncmp(p, line, n) == 0 && strncmp(p + n, "\r\n", 2) == 0)
            return true;
    }
    return false;
}

/* Where the headers end: the first blank line. */
static const char *body_of(const struct out *o)
{
    const char *end = strstr(o->data, "\r\n\r\n");
    return end ? end + 4 : NULL;
}

static size_t body_len(const struct out *o)
{
    const char *b = body_of(o);
    return b ? o->len - (size_t)(b - o->data) : 0;
}

/* The Content-Length header's value, -1 when absent. */
static long content_length(const struct out *o)
{
    const char *end = strstr(o->data, "\r\n\r\n");
    const char *cl = strstr(o->data, "\r\nContent-Length: ");
    if (!cl || !end || cl > end)
        return -1;
    return strtol(cl + 18, NULL, 10);
}

/* The body parsed back with libbson; NULL when it is not valid JSON. */
static bson_t *body_json(const struct out *o)
{
    const char *b = body_of(o);
    bson_error_t e;
    return b ? bson_new_from_json((const uint8_t *)b, (ssize_t)body_len(o), &e) : NULL;
}

static int count_keys(const bson_t *doc)
{
    bson_iter_t it;
    int n = 0;
    if (bson_iter_init(&it, doc)) {
        while (bson_iter_next(&it))
            n++;
    }
    return n;
}

/* The "message" of an error body, copied to buf ("" when absent). */
static const char *message_of(const bson_t *doc, char *buf, size_t len)
{
    bson_iter_t it;
    buf[0] = '\0';
    if (bson_iter_init_find(&it, doc, "message") && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(buf, len, "%s", bson_iter_utf8(&it, NULL));
    return buf;
}

TEST_CASE(error_body_is_spec_json)
{
    struct response r;
    response_init(&r);
    response_error(&r, 404, "no %s here", "thing");
    CHECK_INT(r.status, 404);
    CHECK_STR(r.content_type, "application/json");
    struct out o;
    CHECK(send_to(&r, &o));
    bson_t *doc = body_json(&o);
    CHECK(doc != NULL);
    if (doc) {
        CHECK_INT(count_keys(doc), 3);
        bson_iter_t it;
        CHECK(bson_iter_init_find(&it, doc, "http status code"));
        CHECK(BSON_ITER_HOLDS_INT32(&it));
        CHECK_INT(bson_iter_int32(&it), 404);
        CHECK(bson_iter_init_find(&it, doc, "http status description"));
        CHECK(BSON_ITER_HOLDS_UTF8(&it));
        CHECK_STR(bson_iter_utf8(&it, NULL), "Not Found");
        char msg[600];
        CHECK_STR(message_of(doc, msg, sizeof msg), "no thing here");
        /* In the order of the spec. */
        CHECK(bson_iter_init(&it, doc) && bson_iter_next(&it));
        CHECK_STR(bson_iter_key(&it), "http status code");
        CHECK(bson_iter_next(&it));
        CHECK_STR(bson_iter_key(&it), "http status description");
        CHECK(bson_iter_next(&it));
        CHECK_STR(bson_iter_key(&it), "message");
        bson_destroy(doc);
    }
    response_free(&r);
}

TEST_CASE(send_wire_format)
{
    struct response r;
    response_init(&r);
    response_error(&r, 404, "missing");
    CHECK(response_header(&r, "X-Extra", "%d", 7)); /* headers added after the error stay */
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 404 Not Found\r\n"));
    CHECK(has_line(&o, "Content-Type: application/json"));
    CHECK(has_line(&o, "X-Extra: 7"));
    const char *body = body_of(&o);
    CHECK(body != NULL);
    CHECK(body_len(&o) > 0);
    CHECK_INT(content_length(&o), (long)body_len(&o));
    CHECK(body && body[0] == '{' && o.data[o.len - 1] == '}');
    /* Every header line ends with CRLF: no bare LF before the blank line. */
    bool bare_lf = false;
    for (const char *p = o.data; body && p < body; p++)
        bare_lf = bare_lf || (*p == '\n' && (p == o.data || p[-1] != '\r'));
    CHECK(!bare_lf);
    /* Headers are only Status, Content-Type, Content-Length and X-Extra. */
    int lines = 0;
    for (const char *p = o.data; body && p < body - 2; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 4);
    response_free(&r);
}

TEST_CASE(json_response)
{
    struct response r;
    response_init(&r);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "a", "b");
    BSON_APPEND_INT32(&doc, "n", 3);
    response_json(&r, 201, &doc);
    bson_destroy(&doc);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 201 Created\r\n"));
    CHECK(strstr(o.data, "Content-Type: application/json\r\n") != NULL);
    CHECK_INT(content_length(&o), (long)body_len(&o));
    bson_t *back = body_json(&o);
    CHECK(back != NULL);
    if (back) {
        bson_iter_t it;
        CHECK(bson_iter_init_find(&it, back, "n") && bson_iter_int32(&it) == 3);
        bson_destroy(back);
    }
    response_free(&r);
}

TEST_CASE(head_only_sends_headers_without_body)
{
    struct response r;
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "message", "pong");
    /* The GET response first, for its length. */
    response_init(&r);
    response_json(&r, 200, &doc);
    struct out get;
    CHECK(send_to(&r, &get));
    response_free(&r);

    response_init(&r);
    response_json(&r, 200, &doc);
    r.head_only = true;
    struct out head;
    CHECK(send_to(&r, &head));
    CHECK(has_status(&head, "Status: 200 OK\r\n"));
    CHECK(strstr(head.data, "Content-Type: application/json\r\n") != NULL);
    CHECK(content_length(&get) > 0);
    CHECK_INT(content_length(&head), content_length(&get));
    CHECK(body_of(&head) != NULL);
    CHECK_INT(body_len(&head), 0);
    /* Exactly the GET response's headers. */
    CHECK_INT(head.len, get.len - body_len(&get));
    CHECK(memcmp(head.data, get.data, head.len) == 0);
    response_free(&r);

    /* A HEAD that fails gets the error's headers, still without the body. */
    response_init(&r);
    r.head_only = true;
    response_error(&r, 404, "nope");
    CHECK(send_to(&r, &head));
    CHECK(has_status(&head, "Status: 404 Not Found\r\n"));
    CHECK(content_length(&head) > 0);
    CHECK_INT(body_len(&head), 0);
    response_free(&r);
    bson_destroy(&doc);
}

TEST_CASE(no_content_and_not_modified_have_no_body)
{
    int codes[] = {204, 304};
    const char *status[] = {"Status: 204 No Content\r\n", "Status: 304 Not Modified\r\n"};
    for (int i = 0; i < 2; i++) {
        struct response r;
        response_init(&r);
        CHECK(response_header(&r, "ETag", "%s", "\"abc\""));
        response_empty(&r, codes[i]);
        struct out o;
        CHECK(send_to(&r, &o));
        CHECK(has_status(&o, status[i]));
        CHECK(strstr(o.data, "Content-Length") == NULL);
        CHECK(strstr(o.data, "Content-Type") == NULL);
        CHECK(strstr(o.data, "ETag: \"abc\"\r\n") != NULL);
        CHECK(body_of(&o) != NULL);
        CHECK_INT(body_len(&o), 0);
        response_free(&r);
    }
    /* Even with a body built before: 304 after a JSON body sends none. */
    struct response r;
    response_init(&r);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "a", "b");
    response_json(&r, 200, &doc);
    bson_destroy(&doc);
    r.status = 304;
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(strstr(o.data, "Content-Length") == NULL);
    CHECK_INT(body_len(&o), 0);
    response_free(&r);
}

TEST_CASE(header_injection_refused)
{
    struct response r;
    response_init(&r);
    CHECK(!response_header(&r, "X-A", "%s", "v\r\nSet-Cookie: x=1"));
    CHECK(!response_header(&r, "X-A", "%s", "v\nSet-Cookie: x=1"));
    CHECK(!response_header(&r, "X-A", "%s", "v\rSet-Cookie: x=1"));
    CHECK(!response_header(&r, "X-A\r\nSet-Cookie", "%s", "x=1"));
    CHECK(!response_header(&r, "X-A\n", "%s", "v"));
    CHECK_INT(r.headers.len, 0); /* nothing half-added */
    CHECK(response_header(&r, "X-A", "%s", "v"));
    struct out o;
    response_empty(&r, 204);
    CHECK(send_to(&r, &o));
    CHECK(strstr(o.data, "Set-Cookie") == NULL);
    CHECK(has_line(&o, "X-A: v"));
    response_free(&r);
}

TEST_CASE(header_name_with_colon_refused)
{
    struct response r;
    response_init(&r);
    CHECK(!response_header(&r, "X:A", "%s", "v"));
    CHECK(!response_header(&r, "Set-Cookie: x=1; X", "%s", "v"));
    CHECK_INT(r.headers.len, 0);
    /* A colon in a value is fine. */
    CHECK(response_header(&r, "Location", "%s", "http://h:8080/db/coll/1"));
    struct out o;
    response_empty(&r, 204);
    CHECK(send_to(&r, &o));
    CHECK(has_line(&o, "Location: http://h:8080/db/coll/1"));
    response_free(&r);
}

/* response.h: "refuses (false) names or values with CR, LF or NUL". A NUL
 * formatted into the value hides what follows it from the CR/LF check. */
TEST_CASE(header_value_with_nul_refused)
{
    struct response r;
    response_init(&r);
    CHECK(!response_header(&r, "X-A", "a%cb", 0));
    CHECK(!response_header(&r, "X-A", "v%c\r\nSet-Cookie: x=1", 0));
    CHECK(memchr(r.headers.ptr ? r.headers.ptr : "", '\0', r.headers.len) == NULL);
    response_empty(&r, 204);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(strstr(o.data, "Set-Cookie") == NULL);
    response_free(&r);
}

TEST_CASE(header_value_too_long_refused)
{
    struct response r;
    response_init(&r);
    char v[2000];
    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    CHECK(!response_header(&r, "X-Long", "%s", v));
    CHECK_INT(r.headers.len, 0);
    response_free(&r);
}

TEST_CASE(error_drops_headers_added_before)
{
    struct response r;
    response_init(&r);
    CHECK(response_header(&r, "ETag", "%s", "abc"));
    CHECK(response_header(&r, "Location", "%s", "/db/coll/1"));
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "secret", "body");
    response_json(&r, 200, &doc);
    bson_destroy(&doc);
    response_error(&r, 500, "failed");
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 500 Internal Server Error\r\n"));
    CHECK(strstr(o.data, "ETag") == NULL);
    CHECK(strstr(o.data, "Location") == NULL);
    CHECK(strstr(o.data, "secret") == NULL);
    CHECK_INT(content_length(&o), (long)body_len(&o));
    response_free(&r);
}

TEST_CASE(error_message_special_chars_stay_valid_json)
{
    const char *m = "a \"quote\", a \\ backslash\nand a newline\tand a tab \x01";
    struct response r;
    response_init(&r);
    response_error(&r, 400, "%s", m);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(strchr(body_of(&o) ? body_of(&o) : "", '\n') == NULL); /* escaped */
    bson_t *doc = body_json(&o);
    CHECK(doc != NULL);
    if (doc) {
        char msg[600];
        CHECK_STR(message_of(doc, msg, sizeof msg), m);
        bson_destroy(doc);
    }
    response_free(&r);
}

/* 600 bytes of "é" (2 bytes each) do not fit the 512-byte message buffer;
 * the cut must not leave half a character in the JSON. */
TEST_CASE(error_message_cut_mid_character_stays_valid)
{
    char m[601];
    for (size_t i = 0; i < 600; i += 2) {
        m[i] = '\xc3';
        m[i + 1] = '\xa9';
    }
    m[600] = '\0';
    for (int odd = 0; odd < 2; odd++) {
        struct response r;
        response_init(&r);
        if (odd)
            response_error(&r, 400, "x%s", m); /* cut lands on a character boundary */
        else
            response_error(&r, 400, "%s", m); /* cut lands mid-character */
        struct out o;
        CHECK(send_to(&r, &o));
        bson_t *doc = body_json(&o);
        CHECK(doc != NULL);
        if (doc) {
            char msg[600];
            message_of(doc, msg, sizeof msg);
            size_t len = strlen(msg);
            CHECK(len >= 500 && len <= 511);
            CHECK(bson_utf8_validate(msg, len, false));
            CHECK(len < 2 || memcmp(msg + len - 2, "\xc3\xa9", 2) == 0);
            bson_destroy(doc);
        }
        CHECK_INT(content_length(&o), (long)body_len(&o));
        response_free(&r);
    }
}

TEST_CASE(error_from_module_error)
{
    struct response r;
    response_init(&r);
    struct restfcgi_error err = {.domain = RESTFCGI_ERR_STORE, .code = 409};
    snprintf(err.message, sizeof err.message, "duplicate key");
    response_error_from(&r, &err);
    CHECK_INT(r.status, 409);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 409 Conflict\r\n"));
    bson_t *doc = body_json(&o);
    CHECK(doc != NULL);
    if (doc) {
        char msg[600];
        CHECK_STR(message_of(doc, msg, sizeof msg), "duplicate key");
        bson_destroy(doc);
    }
    response_free(&r);

    /* No HTTP code, or one outside 4xx/5xx: a bug, so 500. */
    int bad[] = {0, 200, 302, 600, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        response_init(&r);
        err.code = bad[i];
        response_error_from(&r, &err);
        CHECK_INT(r.status, 500);
        response_free(&r);
    }
}

TEST_CASE(unknown_status_is_described_unknown)
{
    struct response r;
    response_init(&r);
    response_error(&r, 599, "odd");
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 599 Unknown\r\n"));
    bson_t *doc = body_json(&o);
    CHECK(doc != NULL);
    if (doc) {
        bson_iter_t it;
        CHECK(bson_iter_init_find(&it, doc, "http status description"));
        CHECK_STR(bson_iter_utf8(&it, NULL), "Unknown");
        bson_destroy(doc);
    }
    response_free(&r);
}

TEST_CASE(sink_failure_reported)
{
    /* The whole response is one write. */
    for (int at = 1; at <= 1; at++) {
        struct response r;
        response_init(&r);
        CHECK(response_header(&r, "X-A", "b"));
        response_error(&r, 400, "bad");
        CHECK(response_header(&r, "X-A", "b"));
        struct out o;
        memset(&o, 0, sizeof o);
        o.fail_at = at;
        struct response_sink sink = {.write = out_write, .ctx = &o};
        CHECK(!response_send(&r, &sink));
        response_free(&r);
    }
}

TEST_CASE(response_is_one_write)
{
    struct response r;
    response_init(&r);
    CHECK(response_header(&r, "X-A", "b"));
    response_array_begin(&r, 200);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT32(&doc, "n", 1);
    response_array_append(&r, &doc);
    response_array_end(&r);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK_INT(o.writes, 1);
    CHECK(has_line(&o, "X-A: b"));
    CHECK_STR(body_of(&o), "[{ \"n\" : 1 }]");
    bson_destroy(&doc);
    response_free(&r);
}

TEST_CASE(status_follows_location)
{
    struct response r;
    response_init(&r);
    CHECK(response_header(&r, "Location", "/db/c/1"));
    response_empty(&r, 201);
    struct out o;
    CHECK(send_to(&r, &o));
    CHECK(has_status(&o, "Status: 201 Created\r\n"));
    CHECK(strstr(o.data, "Location: /db/c/1\r\n") < strstr(o.data, "Status: "));
    response_free(&r);
}

TEST_CASE(status_texts)
{
    CHECK_STR(http_status_text(404), "Not Found");
    CHECK_STR(http_status_text(413), "Request Entity Too Large");
    CHECK_STR(http_status_text(414), "URI Too Long");
    CHECK_STR(http_status_text(431), "Request Header Fields Too Large");
    CHECK_STR(http_status_text(999), "Unknown");
    CHECK_STR(http_status_text(0), "Unknown");
    CHECK_STR(http_status_text(-404), "Unknown");
}

TEST_CASE(array_body)
{
    struct response r;
    response_init(&r);
    response_array_begin(&r, 200);
    response_array_end(&r);
    struct out o;
    send_to(&r, &o);
    CHECK_STR(strstr(o.data, "\r\n\r\n") + 4, "[]");
    response_array_begin(&r, 200);
    bson_t *a = BCON_NEW("a", BCON_INT32(1));
    bson_t *b = BCON_NEW("b", "x\"y");
    response_array_append(&r, a);
    response_array_append(&r, b);
    response_array_end(&r);
    send_to(&r, &o);
    const char *body = strstr(o.data, "\r\n\r\n") + 4;
    CHECK_STR(body, "[{ \"a\" : 1 },{ \"b\" : \"x\\\"y\" }]");
    CHECK(strstr(o.data, "Content-Type: application/json\r\n") != NULL);
    bson_destroy(a);
    bson_destroy(b);
    response_free(&r);
}

TEST_CASE(array_of_strings)
{
    struct response r;
    response_init(&r);
    response_array_begin(&r, 200);
    response_array_append_string(&r, "db1", 3);
    response_array_append_string(&r, "a\"b\\c\n", 6);
    response_array_end(&r);
    struct out o;
    send_to(&r, &o);
    CHECK_STR(strstr(o.data, "\r\n\r\n") + 4, "[\"db1\",\"a\\\"b\\\\c\\u000a\"]");
    response_free(&r);
}
