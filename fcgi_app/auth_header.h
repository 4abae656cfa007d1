/* auth_header.h: the Authorization header, parsed and nothing more.
 * Basic carries base64(userid:secret), the secret being a password or a
 * token; Bearer carries a token. Every malformed header is a 401. */
#ifndef RESTFCGI_AUTH_HEADER_H
#define RESTFCGI_AUTH_HEADER_H

#include "arena.h"
#include "restfcgi_plugin.h"
#include "sv.h"

/* The longest Authorization value accepted: a JWT of RESTFCGI_TOKEN_MAX
 * bytes, base64-grown Basic credentials, and room for the scheme. */
#define AUTH_HEADER_MAX 12288

enum auth_scheme { AUTH_BASIC = 1, AUTH_BEARER = 2 };

struct auth_header {
    enum auth_scheme scheme;
    struct sv userid; /* Basic only: 1..RESTFCGI_USERID_MAX bytes, no NUL or control */
    struct sv secret; /* 1..RESTFCGI_TOKEN_MAX bytes, no NUL */
};

/* Parses value into out (decoded bytes live in arena); false with an AUTH
 * error, code 401, whose message names the defect but never the secret. */
bool auth_header_parse(struct sv value, struct arena *arena, struct auth_header *out,
                       struct restfcgi_error *err);

#endif
