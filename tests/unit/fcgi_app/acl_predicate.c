/* Unit tests of fcgi_app/acl_predicate.c: RESTHeart permission predicates,
 * parsed once and evaluated against decoded path segments. */
#include "../../../fcgi_app/acl_predicate.c"

#include "check.h"

#define SEG(s)                                                                                     \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }
#define NSEG(a) (sizeof(a) / sizeof((a)[0]))
#define QP(n, v)                                                                                   \
    {                                                                                              \
        {(n), sizeof(n) - 1},                                                                      \
        {                                                                                          \
            (v), sizeof(v) - 1                                                                     \
        }                                                                                          \
    }

static struct acl_request req(const char *method, const struct sv *segs, size_t n)
{
    return (struct acl_request){.method = sv_from_cstr(method),
                                .segments = segs,
                                .nsegments = n,
                                .now_ms = INT64_C(1700000000123)};
}

/* Parses text and evaluates it against r; a parse error fails the case.
 * The captures in vars borrow their names from the predicate, so the
 * predicate is left in *keep for the caller to free. */
static bool holds_vars(const char *text, const struct acl_request *r, struct acl_vars *vars,
                       struct acl_pred **keep)
{
    char err[256];
    struct acl_pred *p = acl_pred_parse(text, strlen(text), err, sizeof err);
    bool ok = false;
    if (!p) {
        fprintf(stderr, "unexpected parse error for %s: %s\n", text, err);
        check_failures++;
        if (vars)
            vars->n = 0;
    } else {
        ok = acl_pred_eval(p, r, vars);
    }
    if (keep)
        *keep = p;
    else
        acl_pred_free(p);
    return ok;
}

static bool holds(const char *text, const struct acl_request *r)
{
    return holds_vars(text, r, NULL, NULL);
}

/* True when text (len bytes) is refused with a message starting with
 * "at offset <off>: " and containing what. */
static bool refused_n(const char *text, size_t len, size_t off, const char *what)
{
    char err[256], prefix[64];
    struct acl_pred *p = acl_pred_parse(text, len, err, sizeof err);
    if (p) {
        acl_pred_free(p);
        fprintf(stderr, "accepted: %.*s\n", (int)len, text);
        return false;
    }
    snprintf(prefix, sizeof prefix, "at offset %zu: ", off);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        fprintf(stderr, "for %.*s: got \"%s\", want \"%s...%s\"\n", (int)len, text, err, prefix,
                what);
        return false;
    }
    return true;
}

static bool refused(const char *text, size_t off, const char *what)
{
    return refused_n(text, strlen(text), off, what);
}

static bool parses(const char *text, size_t len)
{
    char err[256];
    struct acl_pred *p = acl_pred_parse(text, len, err, sizeof err);
    if (!p)
        fprintf(stderr, "refused: %s\n", err);
    acl_pred_free(p);
    return p != NULL;
}

TEST_CASE(literals)
{
    struct acl_request r = req("GET", NULL, 0);
    CHECK(holds("true", &r));
    CHECK(!holds("false", &r));
    CHECK(holds("TRUE", &r));
    CHECK(holds("not false", &r));
    CHECK(!holds("not true", &r));
    CHECK(holds("  ( true )  ", &r));
}

TEST_CASE(path_exact)
{
    struct sv one[] = {SEG("inventory")}, two[] = {SEG("inventory"), SEG("docs")};
    struct acl_request r = req("GET", one, NSEG(one));
    CHECK(holds("path('/inventory')", &r));
    CHECK(holds("path(\"/inventory\")", &r));
    CHECK(holds("path(path='/inventory')", &r));
    CHECK(holds("path('/inventory/')", &r));
    CHECK(holds("path('//inventory')", &r));
    CHECK(!holds("path('/inv')", &r));
    CHECK(!holds("path('/inventory/docs')", &r));
    CHECK(!holds("path('/')", &r));
    r = req("GET", two, NSEG(two));
    CHECK(!holds("path('/inventory')", &r));
    CHECK(holds("path('/inventory/docs')", &r));
}

TEST_CASE(path_root)
{
    struct sv one[] = {SEG("a")};
    struct acl_request root = req("GET", NULL, 0), r = req("GET", one, NSEG(one));
    CHECK(holds("path('/')", &root));
    CHECK(!holds("path('/')", &r));
    CHECK(holds("path-prefix('/')", &root));
    CHECK(holds("path-prefix('/')", &r));
    CHECK(!holds("path-prefix('/a')", &root));
}

TEST_CASE(path_prefix)
{
    struct sv two[] = {SEG("inventory"), SEG("docs")};
    struct acl_request r = req("GET", two, NSEG(two));
    CHECK(holds("path-prefix('/inventory')", &r));
    CHECK(holds("path-prefix(path='/inventory')", &r));
    CHECK(holds("path-prefix('/inventory/')", &r));
    CHECK(holds("path-prefix('/inventory/docs')", &r));
    CHECK(!holds("path-prefix('/inventory/docs/x')", &r));
    CHECK(!holds("path-prefix('/other')", &r));
    CHECK(holds("path-prefix('/other', '/inventory')", &r));
    CHECK(holds("path-prefix(path={'/other', '/inventory'})", &r));
    CHECK(!holds("path-prefix('/other', '/else')", &r));
}

TEST_CASE(path_prefix_whole_segments)
{
    struct sv s[] = {SEG("secret")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(!holds("path-prefix('/se')", &r));
    CHECK(!holds("path-prefix('/secretive')", &r));
    CHECK(holds("path-prefix('/secret')", &r));
}

/* A decoded ".." (%2e%2e) is a name, never a way up. */
TEST_CASE(path_dotdot_is_a_name)
{
    struct sv s[] = {SEG("a"), SEG(".."), SEG("secret")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(!holds("path-prefix('/secret')", &r));
    CHECK(!holds("path('/secret')", &r));
    CHECK(holds("path-prefix('/a')", &r));
    CHECK(!holds("not path-prefix('/a')", &r));
}

/* A decoded %00 does not cut a segment short. */
TEST_CASE(path_nul_byte)
{
    struct sv s[] = {SEG("secret\0")}, t[] = {SEG("secret\0/x")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(!holds("path('/secret')", &r));
    CHECK(!holds("path-prefix('/secret')", &r));
    CHECK(holds("not path-prefix('/secret')", &r));
    r = req("GET", t, NSEG(t));
    CHECK(!holds("path-prefix('/secret')", &r));
}

/* A decoded %2f stays inside its segment. */
TEST_CASE(path_encoded_slash)
{
    struct sv s[] = {SEG("a/b")};
    struct acl_request r = req("GET", s, NSEG(s));
    struct acl_vars v;
    CHECK(!holds("path('/a/b')", &r));
    CHECK(!holds("path-prefix('/a')", &r));
    CHECK(!holds("path-prefix('/a/b')", &r));
    CHECK(holds_vars("path-template('/{x}')", &r, &v, NULL));
    CHECK_INT(v.n, 1);
    CHECK_SV(v.v[0].value, "a/b");
}

TEST_CASE(path_case_sensitive)
{
    struct sv s[] = {SEG("Secret")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(!holds("path-prefix('/secret')", &r));
    CHECK(!holds("path('/secret')", &r));
    CHECK(holds("path('/Secret')", &r));
}

TEST_CASE(template_captures)
{
    struct sv s[] = {SEG("acme"), SEG("coll"), SEG("42")};
    struct acl_request r = req("GET", s, NSEG(s));
    struct acl_vars v;
    struct sv val;
    struct acl_pred *p;
    CHECK(holds_vars("path-template('/{tenant}/coll/{docid}')", &r, &v, &p));
    CHECK_INT(v.n, 2);
    CHECK(acl_vars_get(&v, SV_LIT("tenant"), &val));
    CHECK_SV(val, "acme");
    CHECK(acl_vars_get(&v, SV_LIT("docid"), &val));
    CHECK_SV(val, "42");
    CHECK(!acl_vars_get(&v, SV_LIT("coll"), &val));
    acl_pred_free(p);
    CHECK(holds("path-template(value='/{tenant}/coll/{docid}')", &r));
    CHECK(holds("path-template('/{tenant}/*')", &r));
    CHECK(holds("path-template('/acme/coll/42/*')", &r)); /* no more segments is fine */
    CHECK(!holds("path-template('/{tenant}/other/{docid}')", &r));
    CHECK(!holds("path-template('/{tenant}/coll')", &r));
    CHECK(!holds("path-template('/{tenant}/coll/{docid}/{x}')", &r));
    CHECK(!holds("path-template('/{tenant}/Coll/{docid}')", &r));
    /* A failed template leaves no captures behind. */
    CHECK(!holds_vars("path-template('/{a}/{b}')", &r, &v, NULL));
    CHECK_INT(v.n, 0);
}

TEST_CASE(template_and_equals_user)
{
    struct sv s[] = {SEG("acme"), SEG("coll"), SEG("alice")};
    struct acl_request r = req("GET", s, NSEG(s));
    const char *pred = "path-template('/{tenant}/coll/{userid}') and equals(@user._id, ${userid})";
    r.userid = SV_LIT("alice");
    CHECK(holds(pred, &r));
    r.userid = SV_LIT("bob");
    CHECK(!holds(pred, &r));
    r.userid = SV_LIT("alic");
    CHECK(!holds(pred, &r));
    r.userid = (struct sv){NULL, 0};
    CHECK(!holds(pred, &r));
}

/* ${var} resolves only from templates to its left that held. */
TEST_CASE(unknown_var_is_false)
{
    struct sv s[] = {SEG("x")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(!holds("equals(${nope}, ${nope})", &r));
    CHECK(!holds("equals(${nope}, '')", &r));
    CHECK(!holds("path-template('/{a}') and equals(${b}, 'x')", &r));
    CHECK(holds("path-template('/{a}') and equals(${a}, 'x')", &r));
    CHECK(!holds("equals(${a}, 'x') and path-template('/{a}')", &r));
    CHECK(!holds("(path-template('/{a}') and false) or equals(${a}, 'x')", &r));
    CHECK(!holds("not path-template('/{a}') or equals(${a}, 'x')", &r));
}

TEST_CASE(captures_kept_only_when_true)
{
    struct sv s[] = {SEG("x")};
    struct acl_request r = req("GET", s, NSEG(s));
    struct acl_vars v;
    CHECK(holds_vars("(path-template('/{a}') and false) or true", &r, &v, NULL));
    CHECK_INT(v.n, 0);
    CHECK(holds_vars("path-template('/{a}') and true", &r, &v, NULL));
    CHECK_INT(v.n, 1);
    CHECK(!holds_vars("path-template('/{a}') and false", &r, &v, NULL));
    CHECK_INT(v.n, 0);
}

static bool tenant_field(void *ctx, struct sv field, struct sv *value)
{
    (void)ctx;
    if (!sv_eq_cstr(field, "tenant"))
        return false;
    *value = SV_LIT("acme");
    return true;
}

TEST_CASE(equals_forms)
{
    const char *roles[] = {"user", "admin"};
    struct acl_request r = req("GET", NULL, 0);
    CHECK(holds("equals('a', 'a')", &r));
    CHECK(holds("equals(a, \"a\")", &r));
    CHECK(!holds("equals('a', 'b')", &r));
    CHECK(!holds("equals('ab', 'abc')", &r));
    CHECK(holds("equals('', '')", &r));
    CHECK(holds("equals('it\\'s', \"it's\")", &r));
    CHECK(holds("equals(value={'a', 'a'})", &r));
    CHECK(!holds("equals(value={'a', 'b'})", &r));
    CHECK(holds("equals(@now, '1700000000123')", &r));
    CHECK(!holds("equals(@now, '1700000000124')", &r));
    CHECK(!holds("equals(@user._id, '')", &r));
    CHECK(!holds("equals(@user._id, @user._id)", &r));
    CHECK(!holds("equals(@user.roles, 'admin')", &r));
    r.userid = SV_LIT("alice");
    r.roles = roles;
    r.nroles = 2;
    CHECK(holds("equals(@user._id, 'alice')", &r));
    CHECK(holds("equals('alice', @user._id)", &r));
    CHECK(!holds("equals(@user._id, 'alic')", &r));
    CHECK(holds("equals(@user.roles, 'admin')", &r));
    CHECK(holds("equals('user', @user.roles)", &r));
    CHECK(!holds("equals(@user.roles, 'root')", &r));
    CHECK(!holds("equals(@user.tenant, 'acme')", &r));
    r.user_field = tenant_field;
    CHECK(holds("equals(@user.tenant, 'acme')", &r));
    CHECK(!holds("equals(@user.tenant, 'other')", &r));
    CHECK(!holds("equals(@user.region, @user.region)", &r));
}

TEST_CASE(equals_user_field_with_template)
{
    struct sv s[] = {SEG("acme"), SEG("coll")};
    struct acl_request r = req("GET", s, NSEG(s));
    const char *pred = "path-template('/{tenant}/coll') and equals(@user.tenant, ${tenant})";
    r.user_field = tenant_field;
    CHECK(!holds(pred, &r)); /* unauthenticated */
    r.userid = SV_LIT("alice");
    CHECK(holds(pred, &r));
    struct sv t[] = {SEG("other"), SEG("coll")};
    r.segments = t;
    CHECK(!holds(pred, &r));
}

TEST_CASE(method_forms)
{
    struct acl_request r = req("GET", NULL, 0);
    CHECK(holds("method(GET)", &r));
    CHECK(holds("method('GET')", &r));
    CHECK(holds("method(get)", &r));
    CHECK(holds("method(value=GET)", &r));
    CHECK(holds("method(POST, GET)", &r));
    CHECK(holds("method(value={POST, GET})", &r));
    CHECK(!holds("method(POST)", &r));
    CHECK(!holds("method(value=POST)", &r));
    CHECK(!holds("method(GETX)", &r));
    r = req("POST", NULL, 0);
    CHECK(holds("method(value=POST)", &r));
    CHECK(!holds("method(GE)", &r));
}

TEST_CASE(qparams_contain)
{
    struct query_param qp[] = {QP("page", "2"), QP("filter", "{}"), QP("x\0y", "")};
    struct acl_request r = req("GET", NULL, 0);
    r.params = qp;
    r.nparams = NSEG(qp);
    CHECK(holds("qparams-contain(page)", &r));
    CHECK(holds("qparams-contain('page', filter)", &r));
    CHECK(holds("qparams-contain(value=page)", &r));
    CHECK(holds("qparams-contain(value={page, filter})", &r));
    CHECK(!holds("qparams-contain(page, pagesize)", &r));
    CHECK(!holds("qparams-contain(pag)", &r));
    CHECK(!holds("qparams-contain(Page)", &r));
    CHECK(!holds("qparams-contain(x)", &r));
    r.nparams = 0;
    CHECK(!holds("qparams-contain(page)", &r));
}

TEST_CASE(precedence_and_binds_tighter)
{
    struct sv s[] = {SEG("y")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(holds("true or true and false", &r));
    CHECK(holds("true or false and false", &r));
    CHECK(holds("false and true or true", &r));
    CHECK(!holds("(true or true) and false", &r));
    CHECK(!holds("false and (false or true)", &r));
    CHECK(holds("method(GET) or method(POST) and path('/x')", &r));
    CHECK(!holds("(method(GET) or method(POST)) and path('/x')", &r));
    CHECK(!holds("not true and false", &r));
    CHECK(holds("not false and true", &r));
    CHECK(!holds("not (false or true)", &r));
}

TEST_CASE(keywords_any_case)
{
    struct sv s[] = {SEG("x")};
    struct acl_request r = req("GET", s, NSEG(s));
    CHECK(holds("method(GET) AND Path('/x')", &r));
    CHECK(holds("NOT false", &r));
    CHECK(holds("false Or true", &r));
    CHECK(holds("Not False aNd True", &r));
    CHECK(holds("method(GET)and(path('/x'))", &r));
}

TEST_CASE(documented_examples)
{
    struct sv secret[] = {SEG("secret")}, open[] = {SEG("open")};
    struct query_param qp[] = {QP("page", "1")};
    const char *pred = "not path('/secret') or (method(GET) and qparams-contain(page))";
    struct acl_request r = req("POST", secret, NSEG(secret));
    CHECK(!holds(pred, &r));
    r = req("GET", secret, NSEG(secret));
    CHECK(!holds(pred, &r));
    r.params = qp;
    r.nparams = 1;
    CHECK(holds(pred, &r));
    r = req("POST", open, NSEG(open));
    CHECK(holds(pred, &r));
    struct sv inv[] = {SEG("inventory"), SEG("x")};
    r = req("GET", inv, NSEG(inv));
    CHECK(holds("path-prefix('/inventory') and method(GET)", &r));
    r.method = SV_LIT("DELETE");
    CHECK(!holds("path-prefix('/inventory') and method(GET)", &r));
}

TEST_CASE(refuses_unknown_predicate)
{
    CHECK(refused("regex('x')", 0, "unknown predicate 'regex'"));
    CHECK(refused("method(GET) and foo(x)", 16, "unknown predicate 'foo'"));
    CHECK(refused("path-prefixes('/a')", 0, "unknown predicate"));
    CHECK(refused("and true", 0, "expected a predicate"));
    CHECK(refused("path", 4, "expected '('"));
}

TEST_CASE(refuses_wrong_arity)
{
    CHECK(refused("path('/a', '/b')", 0, "path takes 1 argument, not 2"));
    CHECK(refused("path()", 0, "path takes 1 argument, not 0"));
    CHECK(refused("true and path-template('/{a}', '/b')", 9, "path-template takes 1 argument"));
    CHECK(refused("equals('a')", 0, "equals takes 2 arguments, not 1"));
    CHECK(refused("equals('a', 'b', 'c')", 0, "equals takes 2 arguments, not 3"));
    CHECK(refused("equals(value={'a'})", 0, "equals takes 2 arguments"));
    CHECK(refused("method()", 0, "method takes at least 1 argument"));
    CHECK(refused("qparams-contain()", 0, "qparams-contain takes at least 1"));
    CHECK(refused("path-prefix()", 0, "path-prefix takes at least 1"));
}

TEST_CASE(refuses_bad_arguments)
{
    CHECK(refused("path(value='/a')", 5, "no parameter of that name"));
    CHECK(refused("path-prefix('/a', path='/b')", 18, "do not mix"));
    CHECK(refused("method(value=GET, POST)", 18, "do not mix"));
    CHECK(refused("method(value=GET, value=POST)", 18, "only one key=value"));
    CHECK(refused("path(${x})", 5, "takes strings, not variables"));
    CHECK(refused("method(@user._id)", 7, "takes strings"));
    CHECK(refused("equals(@foo, 'x')", 7, "unknown variable"));
    CHECK(refused("equals(${}, 'x')", 7, "unknown variable"));
    CHECK(refused("equals(${a b}, 'x')", 7, "unknown variable"));
    CHECK(refused("equals(@user., 'x')", 7, "unknown variable"));
    CHECK(refused("path('/a)", 5, "unterminated string"));
    CHECK(refused("path('/a' '/b')", 10, "expected ',' or ')'"));
    CHECK(refused("path(,)", 5, "expected a value"));
    CHECK(refused("method('')", 7, "empty method"));
    CHECK(refused("qparams-contain(value={a b})", 25, "expected ',' or '}'"));
}

TEST_CASE(refuses_dot_segments)
{
    CHECK(refused("path('/a/../b')", 5, "'.' and '..'"));
    CHECK(refused("path-prefix('/.')", 12, "'.' and '..'"));
    CHECK(refused("path-prefix('/a', '..')", 18, "'.' and '..'"));
    CHECK(refused("path-template('/{a}/..')", 14, "'.' and '..'"));
    CHECK(parses("path('/a/.../b')", 16)); /* "..." is a name */
}

TEST_CASE(refuses_bad_templates)
{
    CHECK(refused("path-template('/{a}/{a}')", 14, "duplicate capture {a}"));
    CHECK(refused("path-template('/a{b}')", 14, "one whole {name}"));
    CHECK(refused("path-template('/{}')", 14, "one whole {name}"));
    CHECK(refused("path-template('/{a.b}')", 14, "one whole {name}"));
    CHECK(refused("path-template('/*/a')", 14, "'*' must be the last"));
    CHECK(refused("path-template(${x})", 14, "takes strings"));
}

TEST_CASE(refuses_trailing_garbage)
{
    CHECK(refused("method(GET) x", 12, "expected 'and', 'or' or the end"));
    CHECK(refused("method(GET) path('/')", 12, "expected 'and', 'or' or the end"));
    CHECK(refused("true()", 4, "expected 'and', 'or' or the end"));
    CHECK(refused("method(GET) and", 15, "expected a predicate"));
    CHECK(refused("not", 3, "expected a predicate"));
    CHECK(refused("", 0, "expected a predicate"));
    CHECK(refused("   ", 3, "expected a predicate"));
}

TEST_CASE(refuses_unbalanced_parentheses)
{
    CHECK(refused("(method(GET)", 12, "expected ')'"));
    CHECK(refused("((true) or (false)", 18, "expected ')'"));
    CHECK(refused("method(GET))", 11, "unbalanced ')'"));
    CHECK(refused("(true))", 6, "unbalanced ')'"));
    CHECK(refused(")", 0, "expected a predicate"));
    CHECK(refused("method(GET", 10, "expected ',' or ')'"));
}

TEST_CASE(refuses_nul_byte)
{
    CHECK(refused_n("method(GET)\0", 12, 11, "NUL byte"));
    CHECK(refused_n("path('/a\0b')", 12, 8, "NUL byte"));
    CHECK(parses("method(GET)", 11));
}

/* Builds "not " x nots, then k "true" joined by " or ". */
static void chain(char *out, size_t outlen, int nots, int k)
{
    size_t n = 0;
    for (int i = 0; i < nots; i++)
        n += (size_t)snprintf(out + n, outlen - n, "not ");
    for (int i = 0; i < k; i++)
        n += (size_t)snprintf(out + n, outlen - n, i ? " or true" : "true");
}

TEST_CASE(node_limit)
{
    char text[1024];
    struct acl_request r = req("GET", NULL, 0);
    /* 32 trues, 31 ors, 1 not: 64 nodes */
    chain(text, sizeof text, 1, 32);
    CHECK(parses(text, strlen(text)));
    CHECK(holds(text, &r)); /* (not true) or true or ... */
    /* one more not: 65 */
    chain(text, sizeof text, 2, 32);
    CHECK(refused(text, strlen(text) - 7, "more than 64 nodes")); /* at the last 'or' */
    /* 33 trues, 32 ors: 65 */
    chain(text, sizeof text, 0, 33);
    CHECK(refused(text, strlen(text) - 7, "more than 64 nodes"));
    /* calls count as one node each: 32 of them and 31 ors */
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, i ? " or method(GET)" : "method(GET)");
    CHECK(holds(text, &r));
    n += (size_t)snprintf(text + n, sizeof text - n, " or method(PUT)");
    CHECK(refused(text, n - 14, "more than 64 nodes"));
}

TEST_CASE(depth_limit)
{
    char text[256];
    size_t n = 0;
    struct acl_request r = req("GET", NULL, 0);
    for (int i = 0; i < 32; i++)
        text[n++] = '(';
    memcpy(text + n, "true", 4);
    n += 4;
    for (int i = 0; i < 32; i++)
        text[n++] = ')';
    text[n] = '\0';
    CHECK(holds(text, &r));
    n = 0;
    for (int i = 0; i < 33; i++)
        text[n++] = '(';
    memcpy(text + n, "true", 4);
    n += 4;
    for (int i = 0; i < 33; i++)
        text[n++] = ')';
    text[n] = '\0';
    CHECK(refused(text, 32, "nested deeper than 32"));

    chain(text, sizeof text, 32, 1);
    CHECK(holds(text, &r)); /* an even number of nots */
    chain(text, sizeof text, 33, 1);
    CHECK(refused(text, 128, "nested deeper than 32"));

    /* not and '(' count together */
    n = 0;
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "not (");
    n += (size_t)snprintf(text + n, sizeof text - n, "false");
    for (int i = 0; i < 16; i++)
        text[n++] = ')';
    text[n] = '\0';
    CHECK(!holds(text, &r));
    memmove(text + 1, text, n + 1);
    text[0] = '(';
    text[n + 1] = ')';
    text[n + 2] = '\0';
    CHECK(refused(text, 80, "nested deeper than 32"));
}

TEST_CASE(text_length_limit)
{
    char *text = malloc(ACL_PRED_MAX_TEXT + 2);
    memset(text, ' ', ACL_PRED_MAX_TEXT + 1);
    memcpy(text, "true", 4);
    text[ACL_PRED_MAX_TEXT + 1] = '\0';
    CHECK(parses(text, ACL_PRED_MAX_TEXT));
    CHECK(refused_n(text, ACL_PRED_MAX_TEXT + 1, ACL_PRED_MAX_TEXT, "longer than 4096 bytes"));
    /* a long path in a string, at the limit */
    size_t n = (size_t)snprintf(text, ACL_PRED_MAX_TEXT + 2, "path-prefix('");
    while (n < ACL_PRED_MAX_TEXT - 2) {
        text[n] = n % 2 ? '/' : 'a';
        n++;
    }
    text[n++] = '\'';
    text[n++] = ')';
    CHECK(parses(text, n));
    free(text);
}

TEST_CASE(capture_limit)
{
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof text, "path-template('");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "/{a%d}", i);
    n += (size_t)snprintf(text + n, sizeof text - n, "') or path-template('");
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "/{b%d}", i);
    size_t at_limit = n;
    n += (size_t)snprintf(text + n, sizeof text - n, "')");
    CHECK(parses(text, n));
    n = at_limit + (size_t)snprintf(text + at_limit, sizeof text - at_limit, "/{c}')");
    size_t second = strstr(text, "or path-template('") - text + 17;
    CHECK(refused_n(text, n, second, "more than 16 captures"));
}

TEST_CASE(ref_in_filters)
{
    const char *roles[] = {"user"};
    struct sv s[] = {SEG("acme")};
    struct acl_request r = req("GET", s, NSEG(s));
    struct acl_vars v;
    struct acl_ref ref;
    struct acl_pred *p;
    CHECK(holds_vars("path-template('/{tenant}')", &r, &v, &p));

    CHECK(acl_pred_ref(SV_LIT("@user._id"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_UNDEFINED); /* unauthenticated */
    CHECK(acl_pred_ref(SV_LIT("@user.tenant"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_UNDEFINED);
    r.userid = SV_LIT("alice");
    r.roles = roles;
    r.nroles = 1;
    CHECK(acl_pred_ref(SV_LIT("@user._id"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_STRING);
    CHECK_SV(ref.value, "alice");
    CHECK(acl_pred_ref(SV_LIT("@user.roles"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_ROLES);
    CHECK(acl_pred_ref(SV_LIT("@now"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_NOW);
    CHECK(ref.now_ms == INT64_C(1700000000123));
    CHECK(acl_pred_ref(SV_LIT("${tenant}"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_STRING);
    CHECK_SV(ref.value, "acme");
    CHECK(acl_pred_ref(SV_LIT("${other}"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_UNDEFINED);
    CHECK(acl_pred_ref(SV_LIT("${tenant}"), &r, NULL, &ref));
    CHECK_INT(ref.kind, ACL_REF_UNDEFINED);
    CHECK(acl_pred_ref(SV_LIT("@user.address.city"), &r, &v, &ref));
    CHECK_INT(ref.kind, ACL_REF_USER_FIELD);
    CHECK_SV(ref.value, "address.city");

    /* literals stay literals */
    CHECK(!acl_pred_ref(SV_LIT("alice"), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("@user._id "), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("x${tenant}"), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("${tenant"), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("@user."), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("@user..x"), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT("@now\0"), &r, &v, &ref));
    CHECK(!acl_pred_ref(SV_LIT(""), &r, &v, &ref));
    acl_pred_free(p);
}

TEST_CASE(error_buffer_optional)
{
    struct acl_pred *p = acl_pred_parse("bogus(", 6, NULL, 0);
    CHECK(p == NULL);
    char tiny[8];
    p = acl_pred_parse("bogus(", 6, tiny, sizeof tiny);
    CHECK(p == NULL);
    CHECK_STR(tiny, "at offs");
    CHECK(acl_pred_parse(NULL, 0, tiny, sizeof tiny) == NULL);
    acl_pred_free(NULL);
    CHECK(!acl_pred_eval(NULL, NULL, NULL));
}
