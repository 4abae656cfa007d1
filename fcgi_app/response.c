#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ejson.h"
#include "response.h"

static const struct {
    int code;
    const char *text;
} status_texts[] = {
    {200, "OK"},
    {201, "Created"},
    {204, "No Content"},
    {207, "Multi-Status"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
};

const char *http_status_text(int status)
{
    for (size_t i = 0; i < sizeof status_texts / sizeof status_texts[0]; i++) {
        if (status_texts[i].code == status)
            return status_texts[i].text;
    }
    return "Unknown";
}

void response_init(struct response *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
}

void response_free(struct response *r)
{
    buf_free(&r->headers);
    buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

bool response_header(struct response *r, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    /* memchr, not strpbrk: a NUL inside the value must not hide a CR/LF after it. */
    if (n < 0 || (size_t)n >= sizeof value || strpbrk(name, "\r\n:") ||
        memchr(value, '\0', (size_t)n) || strpbrk(value, "\r\n"))
        return false;
    buf_append(&r->headers, name, strlen(name));
    buf_append(&r->headers, ": ", 2);
    buf_append(&r->headers, value, (size_t)n);
    buf_append(&r->headers, "\r\n", 2);
    return true;
}

/* The document as the response's shaping wants it (*tmp to destroy). */
static const bson_t *shaped(const struct response *r, const bson_t *doc, bson_t *tmp)
{
    bson_init(tmp);
    if (!r->shape)
        return doc;
    r->shape(r->shape_ctx, doc, tmp);
    return tmp;
}

void response_json(struct response *r, int status, const bson_t *doc)
{
    bson_t tmp;
    r->status = status;
    buf_clear(&r->body);
    bool ok = ejson_append(&r->body, shaped(r, doc, &tmp));
    bson_destroy(&tmp);
    if (!ok && !r->body.failed) {
        response_error(r, 500, "cannot serialise the response");
        return;
    }
    r->content_type = "application/json";
}

void response_array_begin(struct response *r, int status)
{
    r->status = status;
    buf_clear(&r->body);
    buf_append(&r->body, "[", 1);
    r->array_items = 0;
    r->content_type = "application/json";
}

void response_array_append(struct response *r, const bson_t *doc)
{
    bson_t tmp;
    if (r->array_items++)
        buf_append(&r->body, ",", 1);
    if (!ejson_append(&r->body, shaped(r, doc, &tmp)))
        r->body.failed = true;
    bson_destroy(&tmp);
}

void response_array_end(struct response *r) { buf_append(&r->body, "]", 1); }

void response_array_append_string(struct response *r, const char *s, size_t len)
{
    if (r->array_items++)
        buf_append(&r->body, ",", 1);
    buf_append(&r->body, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            buf_append(&r->body, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_append(&r->body, esc, 6);
        } else {
            buf_append(&r->body, (const char *)&s[i], 1);
        }
    }
    buf_append(&r->body, "\"", 1);
}

void response_empty(struct response *r, int status)
{
    r->status = status;
    buf_clear(&r->body);
    r->content_type = NULL;
}

void response_error(struct response *r, int status, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT32(&doc, "http status code", status);
    BSON_APPEND_UTF8(&doc, "http status description", http_status_text(status));
    /* A message cut mid-character by vsnprintf must not break the JSON. */
    size_t mlen = strlen(message);
    while (mlen && !bson_utf8_validate(message, mlen, false))
        mlen--;
    bson_append_utf8(&doc, "message", -1, message, (int)mlen);
    buf_clear(&r->headers);
    r->shape = NULL;
    response_json(r, status, &doc);
    r->status = status;
    bson_destroy(&doc);
}

void response_error_from(struct response *r, const struct restfcgi_error *err)
{
    int status = err->code >= 400 && err->code <= 599 ? err->code : 500;
    response_error(r, status, "%s", err->message);
}

bool response_send(struct response *r, const struct response_sink *sink)
{
    if (r->headers.failed || r->body.failed) {
        /* Out of memory while building: drop it all for a short 500. */
        response_free(r);
        response_init(r);
        r->status = 500;
        static const char oom[] = "{\"http status code\":500,\"http status description\":"
                                  "\"Internal Server Error\",\"message\":\"out of memory\"}";
        buf_append(&r->body, oom, sizeof oom - 1);
        r->content_type = "application/json";
    }
    bool no_body = r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200);
    char head[256];
    int n = snprintf(head, sizeof head, "Status: %d %s\r\n", r->status, http_status_text(r->status));
    size_t hlen = (size_t)n;
    if (!no_body) {
        if (r->content_type)
            hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "Content-Type: %s\r\n",
                                     r->content_type);
        hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "Content-Length: %zu\r\n",
                                 r->body.len);
    }
    hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "\r\n");
    /* Status after every other header: HAProxy's FastCGI client takes the
     * last of Status and Location, and a Location alone means 302. The
     * whole response is then one write (the FastCGI sink turns that into
     * one system call); copying the body costs less than a call. */
    size_t body_len = no_body || r->head_only ? 0 : r->body.len;
    struct buf *out = &r->headers;
    if (buf_reserve(out, hlen + body_len)) {
        size_t headers_len = out->len;
        buf_append(out, head, hlen);
        buf_append(out, r->body.ptr, body_len);
        bool ok = sink->write(sink->ctx, out->ptr, out->len);
        out->len = headers_len; /* the response stays as it was */
        return ok;
    }
    /* No memory for one piece: the pieces as they are. */
    return (!out->len || sink->write(sink->ctx, out->ptr, out->len)) &&
           sink->write(sink->ctx, head, hlen) &&
           (!body_len || sink->write(sink->ctx, r->body.ptr, body_len));
}
