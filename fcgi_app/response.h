/* response.h: status, headers and a JSON body, written in one piece at the
 * end; one error path (response_error) for every failure. */
#ifndef RESTFCGI_RESPONSE_H
#define RESTFCGI_RESPONSE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "restfcgi_plugin.h"

/* Where a response goes: the FastCGI stream, stdout in CGI mode, a test. */
struct response_sink {
    bool (*write)(void *ctx, const void *data, size_t len);
    void *ctx;
};

struct response {
    int status;
    struct buf headers; /* "Name: value\r\n" lines */
    struct buf body;
    const char *content_type; /* static string, NULL for none */
    size_t array_items;       /* documents appended since response_array_begin */
    bool head_only;           /* HEAD: headers as for GET, no body */
    /* Applied to every document of a 2xx body (policy.h), not to errors. */
    void (*shape)(const void *ctx, const bson_t *in, bson_t *out);
    const void *shape_ctx;
};

void response_init(struct response *r);
void response_free(struct response *r);

/* Adds one header; refuses (false) names or values with CR, LF or NUL. */
bool response_header(struct response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A 2xx/3xx body: doc as relaxed Extended JSON, Content-Type application/json. */
void response_json(struct response *r, int status, const bson_t *doc);

/* A JSON array body built one document at a time (a page of results):
 * begin, then append per document (relaxed Extended JSON), then end. */
void response_array_begin(struct response *r, int status);
void response_array_append(struct response *r, const bson_t *doc);
void response_array_end(struct response *r);
/* A JSON string element (names of databases and collections). */
void response_array_append_string(struct response *r, const char *s, size_t len);

/* No body (204, 304). */
void response_empty(struct response *r, int status);

/* The JSON error body of SPEC §4; drops headers and body set before. */
void response_error(struct response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same from an error filled by a module or plugin. */
void response_error_from(struct response *r, const struct restfcgi_error *err);

/* Writes "Status:", headers, Content-Length and the body. */
bool response_send(struct response *r, const struct response_sink *sink);

/* "Not Found" for 404; "Unknown" for codes not in the table. */
const char *http_status_text(int status);

#endif
