/* Unit tests of fcgi_app/response.c: the wire format and the JSON error body. */
#include "../../../fcgi_app/response.c"

#include "check.h"

struct out {
    char data[8192];
    size_t len;
};

static bool out_write(void *ctx, const void *data, size_t len)
{
    struct out *o = ctx;
    if (o->len + len >= sizeof o->data)
        return false;
    memcpy(o->data + o->len, data, len);
    o->len += len;
    o->data[o->len] = '\0';
    return true;
}

static const char *send_to(struct response *r, struct out *o)
{
    memset(o, 0, sizeof *o);
    struct response_sink sink = {.write = out_write, .ctx = o};
    CHECK(response_send(r, &sink));
    return o->data;
}

/* The body after the blank line, parsed back as JSON. */
static bool body_json(const struct out *o, bson_t *doc)
{
    const char *body = strstr(o->data, "\r\n\r\n");
    bson_error_t e;
    return body && bson_init_from_json(doc, body + 4, -1, &e);
}

TEST_CASE(error_body_format)
{
    struct response r;
    response_init(&r);
    response_error(&r, 404, "no %s here", "thing");
    struct out o;
    send_to(&r, &o);
    CHECK(strncmp(o.data, "Status: 404 Not Found\r\n", 23) == 0);
    CHECK(strstr(o.data, "Content-Type: application/json\r\n") != NULL);
    bson_t doc;
    CHECK(body_json(&o, &doc));
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "http status code") && bson_iter_int32(&it) == 404);
    CHECK(bson_iter_init_find(&it, &doc, "http status description") &&
          strcmp(bson_iter_utf8(&it, NULL), "Not Found") == 0);
    CHECK(bson_iter_init_find(&it, &doc, "message") &&
          strcmp(bson_iter_utf8(&it, NULL), "no thing here") == 0);
    bson_destroy(&doc);
    /* Content-Length is the body's length. */
    const char *cl = strstr(o.data, "Content-Length: ");
    const char *body = strstr(o.data, "\r\n\r\n");
    CHECK(cl && body && (size_t)atoi(cl + 16) == strlen(body + 4));
    response_free(&r);
}

TEST_CASE(error_message_escaped)
{
    struct response r;
    response_init(&r);
    response_error(&r, 400, "a \"quote\" a \\ and a\nnewline");
    struct out o;
    send_to(&r, &o);
    bson_t doc;
    CHECK(body_json(&o, &doc));
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "message") &&
          strcmp(bson_iter_utf8(&it, NULL), "a \"quote\" a \\ and a\nnewline") == 0);
    bson_destroy(&doc);
    response_free(&r);
}

TEST_CASE(error_message_cut_stays_utf8)
{
    char msg[700];
    for (size_t i = 0; i + 2 < sizeof msg; i += 2) {
        msg[i] = '\xc3';
        msg[i + 1] = '\xa9';
    }
    msg[sizeof msg - 2] = '\0';
    struct response r;
    response_init(&r);
    response_error(&r, 400, "x%s", msg); /* odd offset: the cut lands mid-character */
    struct out o;
    send_to(&r, &o);
    bson_t doc;
    CHECK(body_json(&o, &doc));
    bson_destroy(&doc);
    response_free(&r);
}

TEST_CASE(error_drops_earlier_headers)
{
    struct response r;
    response_init(&r);
    CHECK(response_header(&r, "ETag", "%s", "abc"));
    response_error(&r, 500, "failed");
    struct out o;
    send_to(&r, &o);
    CHECK(strstr(o.data, "ETag") == NULL);
    response_free(&r);
}

TEST_CASE(header_injection_refused)
{
    struct response r;
    response_init(&r);
    CHECK(!response_header(&r, "X-A", "%s", "v\r\nSet-Cookie: x=1"));
    CHECK(!response_header(&r, "X-A\r\nB", "%s", "v"));
    CHECK(!response_header(&r, "X:A", "%s", "v"));
    CHECK(response_header(&r, "X-A", "%s", "v"));
    struct out o;
    response_empty(&r, 204);
    send_to(&r, &o);
    CHECK(strstr(o.data, "Set-Cookie") == NULL);
    CHECK(strstr(o.data, "X-A: v\r\n") != NULL);
    response_free(&r);
}

TEST_CASE(head_and_empty_bodies)
{
    struct response r;
    response_init(&r);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "a", "b");
    response_json(&r, 200, &doc);
    bson_destroy(&doc);
    r.head_only = true;
    struct out o;
    send_to(&r, &o);
    CHECK(strstr(o.data, "Content-Length: ") != NULL);
    CHECK(strcmp(strstr(o.data, "\r\n\r\n"), "\r\n\r\n") == 0);
    response_free(&r);

    int codes[] = {204, 304};
    for (int i = 0; i < 2; i++) {
        response_init(&r);
        response_empty(&r, codes[i]);
        send_to(&r, &o);
        CHECK(strstr(o.data, "Content-Length") == NULL);
        CHECK(strstr(o.data, "Content-Type") == NULL);
        CHECK(strcmp(strstr(o.data, "\r\n\r\n"), "\r\n\r\n") == 0);
        response_free(&r);
    }
}

TEST_CASE(status_texts)
{
    CHECK_STR(http_status_text(413), "Request Entity Too Large");
    CHECK_STR(http_status_text(431), "Request Header Fields Too Large");
    CHECK_STR(http_status_text(999), "Unknown");
    struct restfcgi_error err = {.domain = RESTFCGI_ERR_STORE, .code = 0};
    struct response r;
    response_init(&r);
    response_error_from(&r, &err); /* no HTTP code: a bug, so 500 */
    CHECK_INT(r.status, 500);
    response_free(&r);
}
