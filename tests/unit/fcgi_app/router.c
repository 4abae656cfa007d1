/* Unit tests of fcgi_app/router.c: every resource shape of SPEC §4 on a
 * hand-built struct request, and the (kind, method) handler table. */
#include "../../../fcgi_app/router.c"

#include <stdarg.h>

#include "check.h"

/* A path given as its decoded segments; the views stay valid as long as the
 * struct path lives, since the route points into segs. */
struct path {
    struct sv segs[8];
    struct request req;
    struct route route;
    struct restfcgi_error err;
};

static bool match(struct path *p, size_t n, ...)
{
    memset(p, 0, sizeof *p);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n && i < 8; i++)
        p->segs[i] = sv_from_cstr(va_arg(ap, const char *));
    va_end(ap);
    p->req.segments = n ? p->segs : NULL;
    p->req.nsegments = n;
    /* Stale values that router_match must overwrite. */
    p->route.kind = RES_METRICS;
    p->route.doc = SV_LIT("stale");
    return router_match(&p->req, &p->route, &p->err);
}

/* A view that is empty (nothing set for this kind). */
static bool empty(struct sv v) { return v.len == 0; }

static void check_404(struct path *p)
{
    CHECK_INT(p->err.code, 404);
    CHECK_INT(p->err.domain, RESTFCGI_ERR_REQUEST);
    CHECK(p->err.message[0] != '\0');
}

TEST_CASE(root)
{
    struct path p;
    CHECK(match(&p, 0));
    CHECK_INT(p.route.kind, RES_ROOT);
    CHECK(empty(p.route.db) && empty(p.route.coll) && empty(p.route.doc) && empty(p.route.name));
}

TEST_CASE(ping_health_metrics)
{
    struct path p;
    CHECK(match(&p, 1, "ping"));
    CHECK_INT(p.route.kind, RES_PING);
    CHECK(empty(p.route.db) && empty(p.route.name) && empty(p.route.doc));
    CHECK(match(&p, 1, "health"));
    CHECK_INT(p.route.kind, RES_HEALTH);
    CHECK(empty(p.route.db));
    CHECK(match(&p, 1, "metrics"));
    CHECK_INT(p.route.kind, RES_METRICS);
    CHECK(empty(p.route.db));
}

TEST_CASE(tokens_and_roles)
{
    struct path p;
    CHECK(match(&p, 2, "tokens", "u"));
    CHECK_INT(p.route.kind, RES_TOKENS);
    CHECK_SV(p.route.name, "u");
    CHECK(p.route.name.ptr == p.segs[1].ptr); /* a view, not a copy */
    CHECK(empty(p.route.db) && empty(p.route.coll));
    CHECK(match(&p, 2, "roles", "u"));
    CHECK_INT(p.route.kind, RES_ROLES);
    CHECK_SV(p.route.name, "u");
    CHECK(empty(p.route.db));
}

TEST_CASE(service_path_with_extra_segment_404)
{
    struct path p;
    CHECK(!match(&p, 2, "ping", "x"));
    check_404(&p);
    CHECK(!match(&p, 2, "health", "x"));
    check_404(&p);
    CHECK(!match(&p, 2, "metrics", "x"));
    check_404(&p);
    CHECK(!match(&p, 3, "tokens", "u", "x"));
    check_404(&p);
    CHECK(!match(&p, 3, "roles", "u", "x"));
    check_404(&p);
}

TEST_CASE(tokens_without_user_404)
{
    struct path p;
    CHECK(!match(&p, 1, "tokens"));
    check_404(&p);
    CHECK(!match(&p, 1, "roles"));
    check_404(&p);
}

TEST_CASE(database)
{
    struct path p;
    CHECK(match(&p, 1, "db"));
    CHECK_INT(p.route.kind, RES_DB);
    CHECK_SV(p.route.db, "db");
    CHECK(empty(p.route.coll) && empty(p.route.doc) && empty(p.route.name));
    /* Names near the service names are databases. */
    CHECK(match(&p, 1, "pings"));
    CHECK_INT(p.route.kind, RES_DB);
    CHECK_SV(p.route.db, "pings");
    CHECK(match(&p, 1, "Ping"));
    CHECK_INT(p.route.kind, RES_DB);
}

TEST_CASE(database_meta)
{
    struct path p;
    CHECK(match(&p, 2, "db", "_meta"));
    CHECK_INT(p.route.kind, RES_DB_META);
    CHECK_SV(p.route.db, "db");
    CHECK(empty(p.route.coll));
}

TEST_CASE(collection)
{
    struct path p;
    CHECK(match(&p, 2, "db", "coll"));
    CHECK_INT(p.route.kind, RES_COLLECTION);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK(empty(p.route.doc) && empty(p.route.name));
}

TEST_CASE(collection_size_meta_indexes)
{
    struct path p;
    CHECK(match(&p, 3, "db", "coll", "_size"));
    CHECK_INT(p.route.kind, RES_SIZE);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK(empty(p.route.doc));
    CHECK(match(&p, 3, "db", "coll", "_meta"));
    CHECK_INT(p.route.kind, RES_COLL_META);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK(empty(p.route.doc));
    CHECK(match(&p, 3, "db", "coll", "_indexes"));
    CHECK_INT(p.route.kind, RES_INDEXES);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK(empty(p.route.doc) && empty(p.route.name));
}

TEST_CASE(index_by_name)
{
    struct path p;
    CHECK(match(&p, 4, "db", "coll", "_indexes", "name"));
    CHECK_INT(p.route.kind, RES_INDEX);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK_SV(p.route.name, "name");
    CHECK(empty(p.route.doc));
}

TEST_CASE(aggregation_by_name)
{
    struct path p;
    CHECK(match(&p, 4, "db", "coll", "_aggrs", "name"));
    CHECK_INT(p.route.kind, RES_AGGR);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK_SV(p.route.name, "name");
    CHECK(empty(p.route.doc));
}

TEST_CASE(bulk)
{
    struct path p;
    CHECK(match(&p, 3, "db", "coll", "*"));
    CHECK_INT(p.route.kind, RES_BULK);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK(empty(p.route.doc));
}

TEST_CASE(document)
{
    struct path p;
    CHECK(match(&p, 3, "db", "coll", "docid"));
    CHECK_INT(p.route.kind, RES_DOCUMENT);
    CHECK_SV(p.route.db, "db");
    CHECK_SV(p.route.coll, "coll");
    CHECK_SV(p.route.doc, "docid");
    CHECK(empty(p.route.name));
    /* A decoded id with a '/' inside is still one document. */
    CHECK(match(&p, 3, "db", "coll", "a/b"));
    CHECK_INT(p.route.kind, RES_DOCUMENT);
    CHECK_SV(p.route.doc, "a/b");
    /* "**" is an id, not the bulk resource. */
    CHECK(match(&p, 3, "db", "coll", "**"));
    CHECK_INT(p.route.kind, RES_DOCUMENT);
}

TEST_CASE(document_with_extra_segment_404)
{
    struct path p;
    CHECK(!match(&p, 4, "db", "coll", "docid", "extra"));
    check_404(&p);
    CHECK(!match(&p, 4, "db", "coll", "*", "x"));
    check_404(&p);
    CHECK(!match(&p, 5, "db", "coll", "_indexes", "a", "b"));
    check_404(&p);
    CHECK(!match(&p, 5, "db", "coll", "_aggrs", "a", "b"));
    check_404(&p);
}

TEST_CASE(segments_compared_by_length)
{
    /* Views with no NUL after them: "pingX" cut to 4 bytes is "ping". */
    struct path p;
    memset(&p, 0, sizeof p);
    p.segs[0] = (struct sv){"pingX", 4};
    p.req.segments = p.segs;
    p.req.nsegments = 1;
    CHECK(router_match(&p.req, &p.route, &p.err));
    CHECK_INT(p.route.kind, RES_PING);
    p.segs[0] = (struct sv){"db", 2};
    p.segs[1] = (struct sv){"_metadata", 5};
    p.req.nsegments = 2;
    CHECK(router_match(&p.req, &p.route, &p.err));
    CHECK_INT(p.route.kind, RES_DB_META);
}

/* ---- router_handler ---- */

TEST_CASE(handler_ping_get)
{
    char allow[64] = "junk";
    CHECK(router_handler(RES_PING, HTTP_GET, allow, sizeof allow) == handle_ping);
}

TEST_CASE(handler_head_falls_back_to_get)
{
    char allow[64] = "junk";
    CHECK(router_handler(RES_PING, HTTP_HEAD, allow, sizeof allow) == handle_ping);
}

TEST_CASE(handler_wrong_method_lists_allow)
{
    char allow[64] = "junk";
    CHECK(router_handler(RES_PING, HTTP_DELETE, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "GET, HEAD");
    strcpy(allow, "junk");
    CHECK(router_handler(RES_PING, HTTP_POST, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "GET, HEAD");
    strcpy(allow, "junk");
    CHECK(router_handler(RES_PING, HTTP_OTHER, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "GET, HEAD");
}

TEST_CASE(handler_kind_without_handlers)
{
    char allow[64] = "junk";
    CHECK(router_handler(RES_NONE, HTTP_GET, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "");
    strcpy(allow, "junk");
    CHECK(router_handler(RES_METRICS, HTTP_GET, allow, sizeof allow) == NULL);
    CHECK_STR(allow, "");
}

TEST_CASE(handler_allow_buffer_too_small)
{
    /* A short buffer is not overrun (ASan) and stays terminated. */
    char allow[4] = "xyz";
    volatile size_t len = sizeof allow; /* hidden from -Wformat-truncation */
    CHECK(router_handler(RES_PING, HTTP_DELETE, allow, len) == NULL);
    CHECK(strlen(allow) < sizeof allow);
}

TEST_CASE(kind_names)
{
    CHECK_STR(resource_kind_name(RES_ROOT), "root");
    CHECK_STR(resource_kind_name(RES_DOCUMENT), "document");
    CHECK_STR(resource_kind_name(RES_METRICS), "metrics");
    CHECK_STR(resource_kind_name((enum resource_kind)999), "none");
}
