/* Unit tests of fcgi_app/acl_predicate.c: the permission predicate language. */
#include "../../../fcgi_app/acl_predicate.c"

#include "check.h"

/* A request: path split on '/' (each piece as decoded, NULs allowed with
 * explicit lengths through seg()), method, user and roles. */
struct fake {
    struct sv segs[16];
    struct query_param params[4];
    const char *roles[4];
    struct acl_request r;
};

static void set_path(struct fake *f, const char *path)
{
    f->r.nsegments = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        if (p > s)
            f->segs[f->r.nsegments++] = (struct sv){s, (size_t)(p - s)};
    }
    f->r.segments = f->segs;
}

static struct fake req(const char *method, const char *path, const char *user)
{
    struct fake f;
    memset(&f, 0, sizeof f);
    f.r.method = sv_from_cstr(method);
    set_path(&f, path);
    f.r.userid = sv_from_cstr(user);
    f.roles[0] = "user";
    f.r.roles = f.roles;
    f.r.nroles = user[0] ? 1 : 0;
    f.r.params = f.params;
    f.r.now_ms = 1234;
    return f;
}

/* Parses and evaluates text for f (fixing the segment pointer after copy). */
static bool holds(const char *text, struct fake *f)
{
    char err[200];
    struct acl_pred *p = acl_pred_parse(text, strlen(text), err, sizeof err);
    if (!p) {
        fprintf(stderr, "parse failed: %s: %s\n", text, err);
        return false;
    }
    f->r.segments = f->segs;
    f->r.params = f->params;
    f->r.roles = f->roles;
    bool ok = acl_pred_eval(p, &f->r, NULL);
    acl_pred_free(p);
    return ok;
}

static bool refused(const char *text, size_t len, const char *want)
{
    char err[200] = "";
    struct acl_pred *p = acl_pred_parse(text, len, err, sizeof err);
    acl_pred_free(p);
    if (!p && !strstr(err, want))
        fprintf(stderr, "refusal of '%.40s' says '%s', not '%s'\n", text, err, want);
    return !p && strstr(err, want) && strncmp(err, "at offset ", 10) == 0;
}

TEST_CASE(paths_and_prefixes)
{
    struct fake f = req("GET", "/shop/items", "bob");
    CHECK(holds("path-prefix('/shop')", &f));
    CHECK(holds("path-prefix(path=\"/shop/\")", &f));
    CHECK(holds("path-prefix('/other', '/shop/items')", &f));
    CHECK(holds("path('/shop/items')", &f));
    CHECK(!holds("path('/shop')", &f));
    CHECK(!holds("path-prefix('/sh')", &f));
    CHECK(!holds("path-prefix('/Shop')", &f));
    struct fake root = req("GET", "/", "bob");
    CHECK(holds("path('/')", &root));
    CHECK(!holds("path('/')", &f));
}

TEST_CASE(decoded_tricks_cannot_move_a_request)
{
    /* /a/%2e%2e/secret: ".." is a name, never a parent. */
    struct fake f = req("GET", "/a/../secret", "bob");
    CHECK(!holds("path-prefix('/secret')", &f));
    CHECK(holds("path-prefix('/a')", &f));
    /* A decoded %2f stays inside its segment. */
    struct fake g = req("GET", "/x", "bob");
    g.segs[0] = (struct sv){"shop/items", 10};
    CHECK(!holds("path('/shop/items')", &g));
    CHECK(!holds("path-prefix('/shop')", &g));
    /* A decoded %00 does not cut the segment. */
    g.segs[0] = (struct sv){"shop\0x", 6};
    CHECK(!holds("path-prefix('/shop')", &g));
}

TEST_CASE(methods_params_and_logic)
{
    struct fake f = req("POST", "/shop", "bob");
    f.params[0] = (struct query_param){SV_LIT("page"), SV_LIT("2")};
    f.r.nparams = 1;
    CHECK(holds("method(POST)", &f));
    CHECK(holds("method(value=post)", &f));
    CHECK(holds("method(GET, POST)", &f));
    CHECK(!holds("method(GET)", &f));
    CHECK(holds("qparams-contain(page)", &f));
    CHECK(!holds("qparams-contain(page, filter)", &f));
    CHECK(holds("method(GET) or method(POST) and path('/shop')", &f));
    CHECK(!holds("(method(GET) or method(POST)) and path('/x')", &f));
    CHECK(holds("NOT method(GET) AND true", &f));
    CHECK(!holds("not (true)", &f));
    CHECK(holds("false or true", &f));
}

TEST_CASE(templates_and_equals)
{
    struct fake f = req("GET", "/bob/notes", "bob");
    CHECK(holds("path-template('/{owner}/notes') and equals(@user._id, ${owner})", &f));
    CHECK(holds("path-template('/{owner}/*')", &f));
    CHECK(!holds("path-template('/{owner}')", &f));
    struct fake g = req("GET", "/alice/notes", "bob");
    CHECK(!holds("path-template('/{owner}/notes') and equals(@user._id, ${owner})", &g));
    CHECK(!holds("equals(@user._id, ${nobody})", &f));
    CHECK(holds("equals(@user.roles, 'user')", &f));
    CHECK(holds("equals('1234', @now)", &f));
    struct fake anon = req("GET", "/x", "");
    CHECK(!holds("equals(@user._id, '')", &anon));
}

TEST_CASE(refusals_name_the_offset)
{
    CHECK(refused("path-prefix('/a'", 16, "')' expected"));
    CHECK(refused("nosuch('/a')", 12, "unknown predicate"));
    CHECK(refused("path('/a', '/b')", 16, "takes 1 to 1"));
    CHECK(refused("path('/a/../b')", 15, "'..' are not allowed"));
    CHECK(refused("true garbage", 12, "unexpected"));
    CHECK(refused("path('a')", 9, "starting with '/'"));
    CHECK(refused("equals(@user.x, 'a')", 20, "unknown variable"));
    CHECK(refused("path('/a\0')", 11, "NUL"));
    CHECK(refused("", 0, "expected"));
}

TEST_CASE(limits_at_and_past)
{
    char text[ACL_PRED_TEXT_MAX + 2];
    /* Depth: 32 nested parentheses parse, 33 do not. */
    char deep[200] = "";
    for (int i = 0; i < 32; i++)
        strcat(deep, "(");
    strcat(deep, "true");
    for (int i = 0; i < 32; i++)
        strcat(deep, ")");
    struct fake f = req("GET", "/", "bob");
    CHECK(holds(deep, &f));
    char deeper[210] = "(";
    strcat(deeper, deep);
    strcat(deeper, ")");
    CHECK(refused(deeper, strlen(deeper), "nested deeper"));
    /* Nodes: 64 parse (32 "true" joined by 31 "or" = 63), more do not. */
    strcpy(text, "true");
    for (int i = 1; i < 32; i++)
        strcat(text, " or true");
    CHECK(holds(text, &f));
    strcat(text, " or true");
    CHECK(refused(text, strlen(text), "more than 64 nodes"));
    memset(text, ' ', sizeof text);
    memcpy(text, "true", 4);
    /* At the text limit ("true" then spaces) it parses; one byte more not. */
    char err[100];
    struct acl_pred *p = acl_pred_parse(text, ACL_PRED_TEXT_MAX, err, sizeof err);
    CHECK(p != NULL);
    acl_pred_free(p);
    CHECK(refused(text, ACL_PRED_TEXT_MAX + 1, "longer than"));
}
