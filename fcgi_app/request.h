/* request.h: the request view, built once from the CGI params and the body.
 * Everything a handler reads from the client is a length-delimited view in
 * the per-request arena; handlers never see raw CGI strings. */
#ifndef RESTFCGI_REQUEST_H
#define RESTFCGI_REQUEST_H

#include "arena.h"
#include "config.h"
#include "restfcgi_plugin.h"
#include "sv.h"

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_OTHER,
};

struct principal;
struct grant;

struct query_param {
    struct sv name, value; /* decoded: '+' is a space, %XX a byte */
};

/* Where a request comes from: FastCGI, CGI or a test. */
struct request_io {
    char **envp; /* "NAME=VALUE", NULL-terminated */
    /* Reads at most len body bytes: the count, 0 at the end, -1 on error. */
    long (*read)(void *ctx, char *buf, size_t len);
    void *ctx;
    /* FastCGI's stdin has an end of its own; CGI's is CONTENT_LENGTH bytes. */
    bool body_ends_at_eof;
};

struct request {
    char **envp;
    enum http_method method;
    struct sv method_name;
    struct sv uri;  /* REQUEST_URI as received */
    struct sv path; /* raw path below base_path, "/" at least */
    struct sv *segments; /* decoded path segments, empty ones dropped */
    size_t nsegments;
    struct query_param *params;
    size_t nparams;
    struct sv content_type;
    struct sv remote_addr;
    struct sv body;
    bool body_unread; /* the body was refused before it was read (413) */
    /* Set by the dispatcher before a handler runs (auth.h, acl.h). */
    const struct principal *principal;
    const struct grant *grant;
};

/* Builds req in arena. On a client error returns false with err->domain
 * RESTFCGI_ERR_REQUEST and err->code the HTTP status (400, 404, 413, 414,
 * 431); req->method and req->uri are then still set when they were known. */
bool request_parse(struct request *req, struct arena *arena, const struct request_io *io,
                   const char *base_path, const struct limits *limits,
                   struct restfcgi_error *err);

/* A CGI param ("REQUEST_METHOD", "HTTP_AUTHORIZATION"); found tells absence. */
struct sv request_env(const struct request *req, const char *name, bool *found);

/* An HTTP request header by its name ("Authorization", "If-Match"). */
struct sv request_header(const struct request *req, const char *name, bool *found);

/* The first query parameter with this name; found tells absence. */
struct sv request_query(const struct request *req, const char *name, bool *found);

const char *http_method_name(enum http_method m);

#endif
