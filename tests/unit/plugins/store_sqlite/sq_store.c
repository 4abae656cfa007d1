/* The sqlite store as the server loads it: store_sqlite.so from
 * $RESTFCGI_PLUGIN_DIR (or ../plugins beside this binary), with a fake host,
 * driven through its ops. For what only shows at the store level: _id and
 * unique keys, index keys, replace, paging, depth. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mql_json.h"
#include "restfcgi_plugin.h"

static char dir[64];

static void host_log(enum restfcgi_log_level level, const char *plugin, const char *fmt, ...)
{
    (void)level;
    (void)plugin;
    (void)fmt;
}

static int64_t host_now(void) { return 1700000000000LL; }

static int64_t host_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool conf_check_keys(const restfcgi_conf *g, const char *const *known, struct restfcgi_error *err)
{
    (void)g;
    (void)known;
    (void)err;
    return true;
}

static int conf_string(const restfcgi_conf *g, const char *key, const char **out, struct restfcgi_error *err)
{
    (void)g;
    (void)err;
    if (strcmp(key, "path") != 0)
        return RESTFCGI_CONF_ABSENT;
    *out = dir;
    return RESTFCGI_CONF_FOUND;
}

static int conf_int(const restfcgi_conf *g, const char *key, int64_t *out, struct restfcgi_error *err)
{
    (void)g;
    (void)key;
    (void)out;
    (void)err;
    return RESTFCGI_CONF_ABSENT;
}

static bool conf_fail(const restfcgi_conf *g, struct restfcgi_error *err, const char *fmt, ...)
{
    (void)g;
    va_list ap;
    va_start(ap, fmt);
    err->domain = RESTFCGI_ERR_CONFIG;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

static const struct restfcgi_host host = {
    .struct_size = sizeof(struct restfcgi_host),
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .version = "test",
    .log = host_log,
    .now_ms = host_now,
    .monotonic_ms = host_mono,
    .conf_check_keys = conf_check_keys,
    .conf_string = conf_string,
    .conf_int = conf_int,
    .conf_fail = conf_fail,
};

static void *lib;
static const struct restfcgi_store_ops *ops;
static void *st;

/* A fresh store with database d and collection c. */
static void open_store(void)
{
    char path[4096];
    const char *pd = getenv("RESTFCGI_PLUGIN_DIR");
    if (pd) {
        snprintf(path, sizeof path, "%s/store_sqlite.so", pd);
    } else {
        char exe[4000];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, sizeof path, "%s/../plugins/store_sqlite.so", exe);
    }
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        abort();
    }
    restfcgi_plugin_entry entry = (restfcgi_plugin_entry)dlsym(lib, "restfcgi_plugin_store_sqlite");
    if (!entry)
        abort();
    ops = entry()->ops;
    snprintf(dir, sizeof dir, "/tmp/sq_store.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    struct restfcgi_error err = {0};
    bool created;
    bson_t empty = BSON_INITIALIZER;
    struct restfcgi_bson e = {bson_get_data(&empty), empty.len};
    if (!ops->life.init(&host, NULL, &st, &err) || !ops->life.worker_init(st, &err) ||
        !ops->db_put(st, "d", e, NULL, &created, &err) || !ops->coll_put(st, "d", "c", e, NULL, &created, &err)) {
        fprintf(stderr, "store setup: %d %s\n", err.code, err.message);
        abort();
    }
}

static void close_store(void)
{
    ops->life.cleanup(st);
    const char *files[] = {"restfcgi.sqlite", "restfcgi.sqlite-wal", "restfcgi.sqlite-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    dlclose(lib);
}

static struct restfcgi_bson V(const bson_t *b) { return (struct restfcgi_bson){bson_get_data(b), b->len}; }

/* Inserts a JSON document: 0 or the error code. */
static int ins_doc(const bson_t *d)
{
    struct restfcgi_error err = {0};
    if (ops->insert(st, "d", "c", V(d), &err))
        return 0;
    fprintf(stderr, "insert: %d %s\n", err.code, err.message);
    return err.code;
}

static int ins(const char *json)
{
    bson_t *d = J(json);
    int r = ins_doc(d);
    bson_destroy(d);
    return r;
}

static int mkindex(const char *name, const char *keys, bool unique)
{
    bson_t *k = J(keys);
    struct restfcgi_error err = {0};
    bool ok = ops->index_create(st, "d", "c", name, V(k), unique, &err);
    bson_destroy(k);
    if (!ok)
        fprintf(stderr, "index %s: %d %s\n", name, err.code, err.message);
    return ok ? 0 : err.code;
}

struct found {
    bson_t ids; /* {"0": id, ...} */
    uint32_t n;
};

static bool collect(void *ctx, const uint8_t *data, uint32_t len, struct restfcgi_error *err)
{
    (void)err;
    struct found *f = ctx;
    bson_t d;
    bson_iter_t it;
    char buf[16];
    const char *key;
    bson_uint32_to_string(f->n++, &key, buf, sizeof buf);
    if (bson_init_static(&d, data, len) && bson_iter_init_find(&it, &d, "_id"))
        bson_append_value(&f->ids, key, -1, bson_iter_value(&it));
    else
        bson_append_null(&f->ids, key, -1);
    return true;
}

/* The _ids a find answers, as canonical JSON ("ERR n" on failure). */
static const char *find_q(const char *filter, const char *sort, int64_t skip, int64_t limit)
{
    bson_t *f = J(filter), *s = sort ? J(sort) : NULL;
    struct restfcgi_find q = {.filter = V(f), .skip = skip, .limit = limit};
    if (s)
        q.sort = V(s);
    struct found res = {.n = 0};
    bson_init(&res.ids);
    struct restfcgi_error err = {0};
    const char *out;
    if (ops->find(st, "d", "c", &q, collect, &res, &err)) {
        out = canon_of(&res.ids);
    } else {
        char *buf = slot();
        snprintf(buf, 16384, "ERR %d %s", err.code, err.message);
        out = buf;
    }
    bson_destroy(&res.ids);
    bson_destroy(f);
    if (s)
        bson_destroy(s);
    return out;
}

static const char *find(const char *filter) { return find_q(filter, NULL, 0, 0); }

/* canonical JSON of the ids given as a JSON array */
static const char *ids(const char *json_array)
{
    bson_t *b = J(json_array);
    const char *s = canon_of(b);
    bson_destroy(b);
    return s;
}

/* Review 4 #1: int64 _ids beyond 2^53 and decimal _ids that differ only
 * past a double's precision were one key: a false 409. */
TEST_CASE(distinct_large_numbers_are_distinct_ids)
{
    open_store();
    CHECK_INT(ins("{'_id':{'$numberLong':'9007199254740992'},'n':0}"), 0);
    CHECK_INT(ins("{'_id':{'$numberLong':'9007199254740993'},'n':1}"), 0);
    CHECK_INT(ins("{'_id':{'$numberLong':'9223372036854775807'}}"), 0);
    CHECK_INT(ins("{'_id':{'$numberLong':'9223372036854775806'}}"), 0);
    CHECK_INT(ins("{'_id':{'$numberDecimal':'1.00000000000000000001'}}"), 0);
    CHECK_INT(ins("{'_id':{'$numberDecimal':'1'}}"), 0);
    CHECK_INT(ins("{'_id':{'$numberDecimal':'1E+400'}}"), 0);
    CHECK_INT(ins("{'_id':{'$numberDecimal':'2E+400'}}"), 0);
    /* equal values are still one _id */
    CHECK_INT(ins("{'_id':1.0}"), 409);
    CHECK_INT(ins("{'_id':{'$numberDecimal':'9007199254740993'}}"), 409);
    CHECK_STR(find("{'_id':{'$numberLong':'9007199254740993'}}"), ids("{'0':{'$numberLong':'9007199254740993'}}"));
    CHECK_STR(find("{'_id':1}"), ids("{'0':{'$numberDecimal':'1'}}"));
    CHECK_STR(find("{'_id':{'$numberDecimal':'2E+400'}}"), ids("{'0':{'$numberDecimal':'2E+400'}}"));
    /* the default order (by key, descending) is the numeric order */
    CHECK_STR(find_q("{'_id':{'$gte':{'$numberLong':'9007199254740992'}}}", NULL, 0, 0),
              ids("{'0':{'$numberDecimal':'2E+400'},'1':{'$numberDecimal':'1E+400'},"
                  "'2':{'$numberLong':'9223372036854775807'},'3':{'$numberLong':'9223372036854775806'},"
                  "'4':{'$numberLong':'9007199254740993'},'5':{'$numberLong':'9007199254740992'}}"));
    close_store();
}

TEST_CASE(distinct_large_numbers_are_distinct_unique_keys)
{
    open_store();
    CHECK_INT(mkindex("u", "{'u':1}", true), 0);
    CHECK_INT(ins("{'_id':1,'u':{'$numberLong':'9007199254740992'}}"), 0);
    CHECK_INT(ins("{'_id':2,'u':{'$numberLong':'9007199254740993'}}"), 0);
    CHECK_INT(ins("{'_id':3,'u':{'$numberDecimal':'0.1'}}"), 0);
    CHECK_INT(ins("{'_id':4,'u':0.1}"), 0); /* not the decimal 0.1 */
    CHECK_INT(ins("{'_id':5,'u':{'$numberDecimal':'9007199254740993'}}"), 409);
    CHECK_STR(find("{'u':{'$numberLong':'9007199254740993'}}"), ids("{'0':2}"));
    CHECK_STR(find("{'u':{'$numberDecimal':'0.1'}}"), ids("{'0':3}"));
    close_store();
    /* and an index built over existing documents */
    open_store();
    CHECK_INT(ins("{'_id':1,'u':{'$numberLong':'9007199254740992'}}"), 0);
    CHECK_INT(ins("{'_id':2,'u':{'$numberLong':'9007199254740993'}}"), 0);
    CHECK_INT(mkindex("u", "{'u':1}", true), 0);
    close_store();
}

/* Review 4 #11: an empty array and a missing field were both null in a
 * unique index; MongoDB keys the empty array apart. */
TEST_CASE(unique_index_tells_empty_array_from_missing)
{
    open_store();
    CHECK_INT(mkindex("u", "{'a':1}", true), 0);
    CHECK_INT(ins("{'_id':1}"), 0);
    CHECK_INT(ins("{'_id':2,'a':[]}"), 0);
    CHECK_INT(ins("{'_id':3,'a':null}"), 409);
    CHECK_INT(ins("{'_id':4,'a':[]}"), 409);
    CHECK_INT(ins("{'_id':5,'a':[[]]}"), 0);
    CHECK_STR(find("{'a':null}"), ids("{'0':1}"));
    CHECK_STR(find("{'a':{'$size':0}}"), ids("{'0':2}"));
    close_store();
}

/* Review 4 #10: a compound index over two fields of one array of documents
 * was refused; MongoDB keys each element's pair (parallel arrays stay
 * refused). */
TEST_CASE(compound_index_over_one_array)
{
    open_store();
    CHECK_INT(mkindex("bc", "{'a.b':1,'a.c':1}", true), 0);
    CHECK_INT(ins("{'_id':1,'a':[{'b':1,'c':1},{'b':2,'c':2}]}"), 0);
    /* pairs of one element, not of two: (1,2) is not a key of _id 1 */
    CHECK_INT(ins("{'_id':2,'a':[{'b':1,'c':2}]}"), 0);
    CHECK_INT(ins("{'_id':3,'a':{'b':2,'c':2}}"), 409);
    CHECK_INT(ins("{'_id':4,'a':[{'b':[5,6],'c':1}]}"), 0);
    CHECK_INT(ins("{'_id':5,'a':[{'b':6,'c':1}]}"), 409);
    CHECK_INT(ins("{'_id':6,'a':[{'b':[1,2],'c':[1,2]}]}"), 400);
    CHECK_STR(find("{'a.b':2}"), ids("{'0':1}"));
    CHECK_STR(find("{'a.b':6}"), ids("{'0':4}"));
    close_store();
    open_store();
    CHECK_INT(mkindex("xy", "{'x':1,'y.z':1}", false), 0);
    CHECK_INT(ins("{'_id':7,'x':[1,2],'y':[{'z':1},{'z':2}]}"), 400);
    CHECK_INT(ins("{'_id':8,'x':[1,2],'y':[{'z':1}]}"), 0);
    CHECK_INT(ins("{'_id':9,'x':[1,2],'y':{'z':[1,2]}}"), 400);
    CHECK_STR(find("{'x':2}"), ids("{'0':8}"));
    close_store();
}

/* Review 4 #13: replace checks that the _id stays. */
TEST_CASE(replace_keeps_the_id)
{
    open_store();
    CHECK_INT(ins("{'_id':1,'a':1}"), 0);
    struct restfcgi_write_result res;
    struct restfcgi_error err = {0};
    bson_t *f = J("{'_id':1}"), *other = J("{'_id':2,'a':2}"), *none = J("{'a':3}"), *same = J("{'_id':1.0,'a':4}");
    CHECK(!ops->replace(st, "d", "c", V(f), V(other), false, &res, &err));
    CHECK_INT(err.code, 400);
    CHECK(strstr(err.message, "_id") != NULL);
    CHECK_STR(find("{'a':1}"), ids("{'0':1}"));
    CHECK_STR(find("{'_id':2}"), ids("{}"));
    memset(&err, 0, sizeof err);
    CHECK(ops->replace(st, "d", "c", V(f), V(none), false, &res, &err));
    CHECK_STR(find("{'a':3}"), ids("{'0':1}"));
    CHECK(ops->replace(st, "d", "c", V(f), V(same), false, &res, &err));
    CHECK_STR(find("{'a':4}"), ids("{'0':1.0}"));
    bson_destroy(f);
    bson_destroy(other);
    bson_destroy(none);
    bson_destroy(same);
    close_store();
}

/* Review 4 #13: skip + limit overflowed (undefined behaviour; UBSan stops
 * the process) for a skip near INT64_MAX on an in-memory sort. */
TEST_CASE(huge_skip_with_limit_and_sort)
{
    open_store();
    CHECK_INT(ins("{'_id':1,'n':3}"), 0);
    CHECK_INT(ins("{'_id':2,'n':2}"), 0);
    CHECK_INT(ins("{'_id':3,'n':1}"), 0);
    CHECK_STR(find_q("{}", "{'n':1}", INT64_MAX - 1, 5), ids("{}"));
    CHECK_STR(find_q("{}", "{'n':1}", 1, INT64_MAX), ids("{'0':2,'1':1}"));
    CHECK_STR(find_q("{}", "{'n':1}", 1, 1), ids("{'0':2}"));
    close_store();
}

/* Review 4 #3: the 20 000-component $set stored a document 20 000 levels
 * deep; every later sort or index on it crashed the worker. */
TEST_CASE(deep_set_is_refused_and_nothing_is_stored)
{
    open_store();
    CHECK_INT(ins("{'_id':1}"), 0);
    CHECK_INT(ins("{'_id':2}"), 0);
    char *path = deep_path(20000);
    bson_t *u = bson_new(), set, *all = J("{}");
    bson_append_document_begin(u, "$set", -1, &set);
    BSON_APPEND_INT32(&set, path, 1);
    bson_append_document_end(u, &set);
    struct restfcgi_write_result res;
    struct restfcgi_error err = {0};
    CHECK(!ops->update(st, "d", "c", V(all), V(u), false, true, false, &res, &err));
    CHECK_INT(err.code, 400);
    CHECK(strstr(err.message, "100") != NULL);
    CHECK_STR(find_q("{'_id':{'$gt':0}}", "{'a':1,'_id':1}", 0, 0), ids("{'0':1,'1':2}"));
    CHECK_INT(mkindex("a", "{'a':1}", false), 0);
    /* an insert too deep for the store's walks is refused as well */
    bson_t *deep = deep_doc(3000, false, 1);
    BSON_APPEND_INT32(deep, "_id", 3);
    CHECK_INT(ins_doc(deep), 400);
    bson_destroy(deep);
    bson_destroy(u);
    bson_destroy(all);
    bson_free(path);
    close_store();
}

/* Review 4 #5: duplicate keys were removed in O(n^2) inside the write lock
 * (40 000 elements: seconds; a 16 MB body: hours). Sorted now. */
TEST_CASE(many_array_elements_index_quickly)
{
    open_store();
    CHECK_INT(mkindex("a", "{'a':1}", false), 0);
    CHECK_INT(mkindex("u", "{'u':1}", true), 0);
    const int n = 150000;
    bson_t doc = BSON_INITIALIZER, arr, same;
    BSON_APPEND_INT32(&doc, "_id", 1);
    bson_append_array_begin(&doc, "a", -1, &arr);
    for (int i = 0; i < n; i++) {
        char buf[16];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, buf, sizeof buf);
        bson_append_int32(&arr, key, -1, i);
    }
    bson_append_array_end(&doc, &arr);
    bson_append_array_begin(&doc, "u", -1, &same);
    for (int i = 0; i < n; i++) {
        char buf[16];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, buf, sizeof buf);
        bson_append_int32(&same, key, -1, 7); /* one key, n times */
    }
    bson_append_array_end(&doc, &same);
    int64_t t0 = host_mono();
    CHECK_INT(ins_doc(&doc), 0);
    int64_t ms = host_mono() - t0;
    fprintf(stderr, "insert of 2 x %d elements with two indexes: %lld ms\n", n, (long long)ms);
    CHECK(ms < 15000);
    CHECK_STR(find("{'a':149999}"), ids("{'0':1}"));
    CHECK_STR(find("{'u':7}"), ids("{'0':1}"));
    CHECK_INT(ins("{'_id':2,'u':[8,7]}"), 409);
    bson_destroy(&doc);
    close_store();
}
