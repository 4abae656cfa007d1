/* Unit tests of fcgi_app/auth_header.c: the Authorization header. */
#include "../../../fcgi_app/auth_header.c"

#include "check.h"

static struct arena arena;
static bool arena_live;

/* Parses value with a fresh arena (the previous one is released). */
static bool parse(const char *value, struct auth_header *h, struct restfcgi_error *err)
{
    if (arena_live)
        arena_destroy(&arena);
    arena_init(&arena, 4096);
    arena_live = true;
    memset(err, 0, sizeof *err);
    return auth_header_parse(sv_from_cstr(value), &arena, h, err);
}

TEST_CASE(basic_and_bearer)
{
    struct auth_header h;
    struct restfcgi_error err;
    CHECK(parse("Basic YWxpY2U6cyNjcjN0", &h, &err)); /* alice:s#cr3t */
    CHECK_INT(h.scheme, AUTH_BASIC);
    CHECK_SV(h.userid, "alice");
    CHECK_SV(h.secret, "s#cr3t");
    CHECK(parse("basic   YTpiOmM=", &h, &err)); /* a:b:c: the first colon splits */
    CHECK_SV(h.userid, "a");
    CHECK_SV(h.secret, "b:c");
    CHECK(parse("Bearer abc.def.ghi", &h, &err));
    CHECK_INT(h.scheme, AUTH_BEARER);
    CHECK_SV(h.secret, "abc.def.ghi");
    arena_destroy(&arena);
}

TEST_CASE(malformed_is_401)
{
    const char *bad[] = {
        "Basic", "Basic ", "Basic !!!!", "Basic YWxpY2U=", /* no colon */
        "Basic OnB3", /* ":pw" */ "Basic YWxpY2U6", /* "alice:" */
        "Basic YWxpY2U6eA", /* unpadded */ "Basic YWxpY2U6eA===", "Basic YWxpY2U6eB==", /* stray bits */
        "Bearer", "Bearer a b", "Digest x", "", "Basic YQBiOmM=", /* NUL in userid */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct auth_header h;
        struct restfcgi_error err;
        if (parse(bad[i], &h, &err)) {
            fprintf(stderr, "accepted: '%s'\n", bad[i]);
            CHECK(false);
        }
        CHECK_INT(err.domain, RESTFCGI_ERR_AUTH);
        CHECK_INT(err.code, 401);
    }
    arena_destroy(&arena);
}

TEST_CASE(header_length_at_and_past_the_limit)
{
    static char value[AUTH_HEADER_MAX + 2];
    struct auth_header h;
    struct restfcgi_error err;
    memcpy(value, "Bearer ", 7);
    memset(value + 7, 'a', AUTH_HEADER_MAX - 7);
    value[AUTH_HEADER_MAX] = '\0';
    /* At the limit the header is read; its token is longer than any token. */
    CHECK(!parse(value, &h, &err));
    CHECK(strstr(err.message, "malformed Bearer") != NULL);
    value[AUTH_HEADER_MAX] = 'a';
    value[AUTH_HEADER_MAX + 1] = '\0';
    CHECK(!parse(value, &h, &err));
    CHECK(strstr(err.message, "too long") != NULL);
    arena_destroy(&arena);
}
