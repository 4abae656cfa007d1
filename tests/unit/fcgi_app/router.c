/* Unit tests of fcgi_app/router.c: every resource shape and the handler table. */
#include "../../../fcgi_app/router.c"

#include "check.h"

/* Routes a path given as segments ("db", "coll", ...). */
static bool route_of(struct route *r, struct restfcgi_error *err, size_t n, ...)
{
    struct sv segs[8];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        segs[i] = sv_from_cstr(va_arg(ap, const char *));
    va_end(ap);
    struct request req = {.segments = segs, .nsegments = n};
    memset(err, 0, sizeof *err);
    bool ok = router_match(&req, r, err);
    /* Views point into segs: copy what the checks read before segs goes. */
    static char keep[4][64];
    struct sv *views[] = {&r->db, &r->coll, &r->doc, &r->name};
    for (int i = 0; i < 4; i++) {
        snprintf(keep[i], sizeof keep[i], "%.*s", (int)views[i]->len, views[i]->ptr ? views[i]->ptr : "");
        *views[i] = (struct sv){keep[i], views[i]->len};
    }
    return ok;
}

TEST_CASE(service_paths)
{
    struct route r;
    struct restfcgi_error err;
    CHECK(route_of(&r, &err, 0));
    CHECK_INT(r.kind, RES_ROOT);
    CHECK(route_of(&r, &err, 1, "ping"));
    CHECK_INT(r.kind, RES_PING);
    CHECK(route_of(&r, &err, 1, "health"));
    CHECK_INT(r.kind, RES_HEALTH);
    CHECK(route_of(&r, &err, 1, "metrics"));
    CHECK_INT(r.kind, RES_METRICS);
    CHECK(route_of(&r, &err, 2, "tokens", "alice"));
    CHECK_INT(r.kind, RES_TOKENS);
    CHECK_SV(r.name, "alice");
    CHECK(route_of(&r, &err, 2, "roles", "bob"));
    CHECK_INT(r.kind, RES_ROLES);
    CHECK_SV(r.name, "bob");
    /* Service names never fall through to databases. */
    CHECK(!route_of(&r, &err, 2, "ping", "x"));
    CHECK_INT(err.code, 404);
    CHECK(!route_of(&r, &err, 1, "tokens"));
    CHECK_INT(err.code, 404);
    CHECK(!route_of(&r, &err, 3, "roles", "a", "b"));
}

TEST_CASE(data_paths)
{
    struct route r;
    struct restfcgi_error err;
    CHECK(route_of(&r, &err, 1, "db"));
    CHECK_INT(r.kind, RES_DB);
    CHECK_SV(r.db, "db");
    CHECK(route_of(&r, &err, 2, "db", "_meta"));
    CHECK_INT(r.kind, RES_DB_META);
    CHECK(route_of(&r, &err, 2, "db", "coll"));
    CHECK_INT(r.kind, RES_COLLECTION);
    CHECK_SV(r.coll, "coll");
    CHECK(route_of(&r, &err, 3, "db", "coll", "_size"));
    CHECK_INT(r.kind, RES_SIZE);
    CHECK(route_of(&r, &err, 3, "db", "coll", "_meta"));
    CHECK_INT(r.kind, RES_COLL_META);
    CHECK(route_of(&r, &err, 3, "db", "coll", "_indexes"));
    CHECK_INT(r.kind, RES_INDEXES);
    CHECK(route_of(&r, &err, 4, "db", "coll", "_indexes", "by_name"));
    CHECK_INT(r.kind, RES_INDEX);
    CHECK_SV(r.name, "by_name");
    CHECK(route_of(&r, &err, 4, "db", "coll", "_aggrs", "totals"));
    CHECK_INT(r.kind, RES_AGGR);
    CHECK_SV(r.name, "totals");
    CHECK(route_of(&r, &err, 3, "db", "coll", "*"));
    CHECK_INT(r.kind, RES_BULK);
    CHECK(route_of(&r, &err, 3, "db", "coll", "doc1"));
    CHECK_INT(r.kind, RES_DOCUMENT);
    CHECK_SV(r.db, "db");
    CHECK_SV(r.coll, "coll");
    CHECK_SV(r.doc, "doc1");
    CHECK(!route_of(&r, &err, 4, "db", "coll", "doc1", "extra"));
    CHECK_INT(err.code, 404);
    CHECK(!route_of(&r, &err, 5, "db", "coll", "_indexes", "a", "b"));
}

TEST_CASE(handler_table)
{
    char allow[64];
    CHECK(router_handler(RES_PING, HTTP_GET, allow, sizeof allow) == handle_ping);
    CHECK(router_handler(RES_PING, HTTP_HEAD, allow, sizeof allow) == handle_ping);
    CHECK(router_handler(RES_PING, HTTP_DELETE, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "GET, HEAD");
    CHECK(router_handler(RES_PING, HTTP_OTHER, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "GET, HEAD");
    CHECK(router_handler(RES_NONE, HTTP_GET, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "");
    CHECK_STR(resource_kind_name(RES_DOCUMENT), "document");
}
