/* Unit tests of fcgi_app/params.c: read parameters into bson and numbers. */
#include "../../../fcgi_app/params.c"

#include "check.h"

static struct limits lim(void)
{
    return (struct limits){.max_body = 1024, .max_depth = 8, .default_pagesize = 100,
                           .max_pagesize = 1000, .max_url = 8192, .max_headers = 8192,
                           .max_params = 16};
}

/* A request with the given decoded query parameters (name, value pairs). */
static struct request req_with(struct query_param *qp, size_t n)
{
    struct request r;
    memset(&r, 0, sizeof r);
    r.params = qp;
    r.nparams = n;
    return r;
}

#define QP(n, v) {{n, sizeof(n) - 1}, {v, sizeof(v) - 1}}

static char *json(const bson_t *b) { return bson_as_canonical_extended_json(b, NULL); }

TEST_CASE(defaults)
{
    struct limits l = lim();
    struct request r = req_with(NULL, 0);
    struct find_params p;
    struct restfcgi_error err = {0};
    CHECK(params_find(&r, &l, &p, &err));
    CHECK_INT(p.page, 1);
    CHECK_INT(p.pagesize, 100);
    CHECK(!p.count);
    CHECK(bson_empty(&p.filter) && bson_empty(&p.sort) && bson_empty(&p.keys));
    params_find_free(&p);
}

TEST_CASE(filters_anded)
{
    struct limits l = lim();
    struct query_param qp[] = {QP("filter", "{\"a\":1}"), QP("page", "2"), QP("filter", "{\"b\":2}")};
    struct request r = req_with(qp, 3);
    struct find_params p;
    struct restfcgi_error err = {0};
    CHECK(params_find(&r, &l, &p, &err));
    char *j = json(&p.filter);
    CHECK_STR(j, "{ \"$and\" : [ { \"a\" : { \"$numberInt\" : \"1\" } }, { \"b\" : { \"$numberInt\" : \"2\" } } ] }");
    bson_free(j);
    CHECK_INT(p.page, 2);
    params_find_free(&p);
}

TEST_CASE(sort_forms)
{
    struct limits l = lim();
    struct query_param qp[] = {QP("sort", "-a"), QP("sort", "{\"b\":1}"), QP("sort", "c")};
    struct request r = req_with(qp, 3);
    struct find_params p;
    struct restfcgi_error err = {0};
    CHECK(params_find(&r, &l, &p, &err));
    char *j = json(&p.sort);
    CHECK_STR(j, "{ \"a\" : { \"$numberInt\" : \"-1\" }, \"b\" : { \"$numberInt\" : \"1\" }, \"c\" : { \"$numberInt\" : \"1\" } }");
    bson_free(j);
    params_find_free(&p);
}

static int status_of(struct query_param *qp, size_t n)
{
    struct limits l = lim();
    struct request r = req_with(qp, n);
    struct find_params p;
    struct restfcgi_error err = {0};
    bool ok = params_find(&r, &l, &p, &err);
    params_find_free(&p);
    return ok ? 200 : err.code;
}

TEST_CASE(refusals)
{
    struct query_param a[] = {QP("filter", "{\"$where\":\"1\"}")};
    CHECK_INT(status_of(a, 1), 403);
    struct query_param b[] = {QP("filter", "{\"x\":{\"$or\":[{\"$where\":1}]}}")};
    CHECK_INT(status_of(b, 1), 403);
    struct query_param c[] = {QP("pagesize", "1001")};
    CHECK_INT(status_of(c, 1), 400);
    struct query_param d[] = {QP("pagesize", "1000")};
    CHECK_INT(status_of(d, 1), 200);
    struct query_param e[] = {QP("page", "0")};
    CHECK_INT(status_of(e, 1), 400);
    struct query_param f[] = {QP("page", "1x")};
    CHECK_INT(status_of(f, 1), 400);
    struct query_param g[] = {QP("filter", "[1]")};
    CHECK_INT(status_of(g, 1), 400);
    struct query_param h[] = {QP("keys", "{")};
    CHECK_INT(status_of(h, 1), 400);
    struct query_param i[] = {QP("sort", "$natural")};
    CHECK_INT(status_of(i, 1), 400);
    struct query_param j[] = {QP("filter", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}")};
    CHECK_INT(status_of(j, 1), 400); /* depth 9 > 8 */
    struct query_param k[] = {QP("page", "99999999999999"), QP("pagesize", "1000")};
    CHECK_INT(status_of(k, 2), 200);
}

TEST_CASE(count_flag_and_required_filter)
{
    struct limits l = lim();
    struct query_param qp[] = {QP("count", "")};
    struct request r = req_with(qp, 1);
    struct find_params p;
    struct restfcgi_error err = {0};
    CHECK(params_find(&r, &l, &p, &err));
    CHECK(p.count);
    params_find_free(&p);
    bson_t f;
    CHECK(!params_filter(&r, &l, true, &f, &err));
    CHECK_INT(err.code, 400);
    bson_destroy(&f);
}
