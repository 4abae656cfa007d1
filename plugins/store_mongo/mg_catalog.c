/* mg_catalog.c: databases, collections and their properties, kept in the
 * catalog collection (see mg.h). The commands that write (create, drop,
 * dropDatabase) go through mongoc_client_write_command_with_opts, which adds
 * the URI's write concern as the document writes do (command_simple does not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

/* Catalog ids: "db" and "db.coll" (names are at most 255 bytes). */
#define ID_MAX 520

static void entry_id(const char *db, const char *coll, char *out)
{
    if (coll)
        snprintf(out, ID_MAX, "%s.%s", db, coll);
    else
        snprintf(out, ID_MAX, "%s", db);
}

static mongoc_collection_t *catalog(struct store *s, mongoc_client_t *c)
{
    return mongoc_client_get_collection(c, s->catalog_db, MG_CATALOG_COLL);
}

/* Catalog reads go to the primary whatever the URI's readPreference: a
 * secondary may not have the entry a 201 just wrote. */
static mongoc_cursor_t *catalog_find(mongoc_collection_t *cat, const bson_t *filter,
                                     const bson_t *opts)
{
    mongoc_read_prefs_t *primary = mongoc_read_prefs_new(MONGOC_READ_PRIMARY);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(cat, filter, opts, primary);
    mongoc_read_prefs_destroy(primary);
    return cur;
}

/* The catalog entry of db or db.coll into *entry (initialised either way);
 * *found says whether there is one. */
static bool read_entry(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                       bson_t *entry, bool *found, struct restfcgi_error *err)
{
    char id[ID_MAX];
    entry_id(db, coll, id);
    bson_init(entry);
    *found = false;
    mongoc_collection_t *cat = catalog(s, c);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true));
    mongoc_cursor_t *cur = catalog_find(cat, filter, opts);
    const bson_t *doc;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_copy_to_excluding_noinit(doc, entry, "", NULL);
        *found = true;
    }
    bson_error_t e;
    bool ok = !mongoc_cursor_error(cur, &e) || mg_fail(s, &e, "reading the catalog", err);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(cat);
    return ok;
}

static bool missing(struct restfcgi_error *err, const char *db, const char *coll)
{
    if (coll)
        return mg_error(err, 404, "collection %s/%s does not exist", db, coll);
    return mg_error(err, 404, "database %s does not exist", db);
}

bool mg_exists(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
               struct restfcgi_error *err)
{
    bson_t entry;
    bool found;
    bool ok = read_entry(s, c, db, coll, &entry, &found, err);
    bson_destroy(&entry);
    return ok && (found || missing(err, db, coll));
}

/* The props document of an entry, as a view into it. */
static bool entry_props(const bson_t *entry, bson_t *props)
{
    bson_iter_t it;
    uint32_t len;
    const uint8_t *data;
    if (!bson_iter_init_find(&it, entry, "props") || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return false;
    bson_iter_document(&it, &len, &data);
    return bson_init_static(props, data, len);
}

/* If-Match against the stored props' _etag. */
static bool etag_matches(const bson_t *entry, const char *if_match)
{
    if (!if_match)
        return true;
    bson_t props;
    bson_iter_t it;
    char hex[25];
    if (!entry_props(entry, &props) || !bson_iter_init_find(&it, &props, "_etag") ||
        !BSON_ITER_HOLDS_OID(&it))
        return false;
    bson_oid_to_string(bson_iter_oid(&it), hex);
    return strcmp(hex, if_match) == 0;
}

/* Emits {"_id": name, "props": {...}} for each entry the filter selects. */
static bool list_entries(struct store *s, mongoc_client_t *c, bson_t *filter, const char *name_key,
                         restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err)
{
    mongoc_collection_t *cat = catalog(s, c);
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = catalog_find(cat, filter, opts);
    const bson_t *doc;
    bool ok = true;
    while (ok && mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        bson_t out = BSON_INITIALIZER, props;
        if (bson_iter_init_find(&it, doc, name_key) && BSON_ITER_HOLDS_UTF8(&it)) {
            uint32_t len;
            const char *name = bson_iter_utf8(&it, &len);
            bson_append_utf8(&out, "_id", 3, name, (int)len);
            if (entry_props(doc, &props))
                BSON_APPEND_DOCUMENT(&out, "props", &props);
            ok = emit(ctx, bson_get_data(&out), out.len, err);
        }
        bson_destroy(&out);
    }
    bson_error_t e;
    if (ok && mongoc_cursor_error(cur, &e))
        ok = mg_fail(s, &e, "listing the catalog", err);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(cat);
    return ok;
}

bool mg_db_list(void *state, restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bson_t *filter = BCON_NEW("coll", "{", "$exists", BCON_BOOL(false), "}");
    bool ok = list_entries(s, c, filter, "db", emit, ctx, err);
    bson_destroy(filter);
    mg_release(s, c);
    return ok;
}

bool mg_coll_list(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bson_t *filter = BCON_NEW("db", BCON_UTF8(db), "coll", "{", "$exists", BCON_BOOL(true), "}");
    bool ok = mg_exists(s, c, db, NULL, err) && list_entries(s, c, filter, "coll", emit, ctx, err);
    bson_destroy(filter);
    mg_release(s, c);
    return ok;
}

static bool get_props(struct store *s, const char *db, const char *coll, restfcgi_emit_fn emit,
                      void *ctx, struct restfcgi_error *err)
{
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bson_t entry, props;
    bool found;
    bool ok = read_entry(s, c, db, coll, &entry, &found, err);
    mg_release(s, c);
    if (ok && !found)
        ok = missing(err, db, coll);
    if (ok) {
        if (!entry_props(&entry, &props))
            bson_init(&props);
        ok = emit(ctx, bson_get_data(&props), props.len, err);
    }
    bson_destroy(&entry);
    return ok;
}

bool mg_db_get(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
               struct restfcgi_error *err)
{
    return get_props(state, db, NULL, emit, ctx, err);
}

bool mg_coll_get(void *state, const char *db, const char *coll, restfcgi_emit_fn emit, void *ctx,
                 struct restfcgi_error *err)
{
    return get_props(state, db, coll, emit, ctx, err);
}

/* Creates or replaces the entry of db (coll NULL) or db.coll. With If-Match
 * the replacement is conditional on the stored _etag in one write. */
static bool put_props(struct store *s, const char *db, const char *coll, struct restfcgi_bson pv,
                      const char *if_match, bool *created, struct restfcgi_error *err)
{
    bson_t props;
    if (!mg_view(pv, &props))
        return mg_error(err, 400, "the properties are not BSON");
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    char id[ID_MAX];
    entry_id(db, coll, id);
    bson_t entry = BSON_INITIALIZER, reply, stored;
    BSON_APPEND_UTF8(&entry, "_id", id);
    BSON_APPEND_UTF8(&entry, "db", db);
    if (coll)
        BSON_APPEND_UTF8(&entry, "coll", coll);
    BSON_APPEND_DOCUMENT(&entry, "props", &props);
    bson_init(&reply);
    bson_init(&stored);
    mongoc_collection_t *cat = catalog(s, c);
    bson_error_t e;
    bool ok = !coll || mg_exists(s, c, db, NULL, err);
    if (ok && if_match) {
        bson_oid_t oid;
        bool valid = bson_oid_is_valid(if_match, strlen(if_match));
        if (valid)
            bson_oid_init_from_string(&oid, if_match);
        bson_t *filter = valid ? BCON_NEW("_id", BCON_UTF8(id), "props._etag", BCON_OID(&oid))
                               : NULL;
        bool replaced = false;
        if (filter) {
            ok = mongoc_collection_replace_one(cat, filter, &entry, NULL, &reply, &e) ||
                 mg_fail(s, &e, "writing the catalog", err);
            replaced = ok && mg_reply_count(&reply, "matchedCount") == 1;
            bson_destroy(filter);
        }
        bool found = false;
        if (ok && !replaced) {
            bson_destroy(&stored);
            ok = read_entry(s, c, db, coll, &stored, &found, err);
        }
        if (ok && !replaced && found)
            ok = mg_error(err, 412, "the ETag does not match");
        else if (ok && !replaced)
            ok = mongoc_collection_insert_one(cat, &entry, NULL, NULL, &e) ||
                 mg_fail(s, &e, "writing the catalog", err);
        *created = !replaced;
    } else if (ok) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        ok = mongoc_collection_replace_one(cat, filter, &entry, opts, &reply, &e) ||
             mg_fail(s, &e, "writing the catalog", err);
        *created = ok && mg_reply_count(&reply, "upsertedCount") == 1;
        bson_destroy(opts);
        bson_destroy(filter);
    }
    struct mg_caps caps;
    if (ok && coll && *created && mg_caps(s, c, &caps, err) && caps.create) {
        /* Make the namespace on a real MongoDB, so listIndexes answers. */
        bson_t *cmd = BCON_NEW("create", BCON_UTF8(coll));
        if (!mongoc_client_write_command_with_opts(c, db, cmd, NULL, NULL, &e) &&
            !(e.domain == MONGOC_ERROR_SERVER && e.code == 48)) /* NamespaceExists */
            s->host->log(RESTFCGI_LOG_WARN, MG_PLUGIN, "create %s.%s: %s", db, coll, e.message);
        bson_destroy(cmd);
    }
    mongoc_collection_destroy(cat);
    mg_release(s, c);
    bson_destroy(&stored);
    bson_destroy(&reply);
    bson_destroy(&entry);
    return ok;
}

bool mg_db_put(void *state, const char *db, struct restfcgi_bson props, const char *if_match,
               bool *created, struct restfcgi_error *err)
{
    return put_props(state, db, NULL, props, if_match, created, err);
}

bool mg_coll_put(void *state, const char *db, const char *coll, struct restfcgi_bson props,
                 const char *if_match, bool *created, struct restfcgi_error *err)
{
    return put_props(state, db, coll, props, if_match, created, err);
}

bool mg_drop_namespace(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                       struct restfcgi_error *err)
{
    struct mg_caps caps;
    if (!mg_caps(s, c, &caps, err))
        return false;
    bson_error_t e;
    bool ok;
    if (caps.drop) {
        bson_t *cmd = BCON_NEW("drop", BCON_UTF8(coll));
        ok = mongoc_client_write_command_with_opts(c, db, cmd, NULL, NULL, &e) ||
             (e.domain == MONGOC_ERROR_SERVER && e.code == 26) || /* NamespaceNotFound */
             mg_fail(s, &e, "dropping a collection", err);
        bson_destroy(cmd);
        return ok;
    }
    /* Without drop the documents go; secondary indexes stay (see README). */
    mongoc_collection_t *mc = mongoc_client_get_collection(c, db, coll);
    bson_t filter = BSON_INITIALIZER;
    ok = mongoc_collection_delete_many(mc, &filter, NULL, NULL, &e) ||
         mg_fail(s, &e, "deleting a collection's documents", err);
    mongoc_collection_destroy(mc);
    return ok;
}

/* Deletes the catalog entry _id = id. */
static bool delete_entry(struct store *s, mongoc_client_t *c, const char *id,
                         struct restfcgi_error *err)
{
    mongoc_collection_t *cat = catalog(s, c);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_error_t e;
    bool ok = mongoc_collection_delete_one(cat, filter, NULL, NULL, &e) ||
              mg_fail(s, &e, "writing the catalog", err);
    bson_destroy(filter);
    mongoc_collection_destroy(cat);
    return ok;
}

/* The entry of db or db.coll after the If-Match check; 404, 412. */
static bool entry_for_drop(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                           const char *if_match, struct restfcgi_error *err)
{
    bson_t entry;
    bool found;
    bool ok = read_entry(s, c, db, coll, &entry, &found, err);
    if (ok && !found)
        ok = missing(err, db, coll);
    if (ok && !etag_matches(&entry, if_match))
        ok = mg_error(err, 412, "the ETag does not match");
    bson_destroy(&entry);
    return ok;
}

/* The data goes first, the entry last: a failure in between leaves an empty
 * collection the client can drop again, never documents without an entry. */
bool mg_coll_drop(void *state, const char *db, const char *coll, const char *if_match,
                  struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    char id[ID_MAX];
    entry_id(db, coll, id);
    bool ok = entry_for_drop(s, c, db, coll, if_match, err) &&
              mg_drop_namespace(s, c, db, coll, err) && delete_entry(s, c, id, err);
    mg_release(s, c);
    return ok;
}

/* The names of db's collections in the catalog (a NULL-terminated array). */
static char **coll_names(struct store *s, mongoc_client_t *c, const char *db,
                         struct restfcgi_error *err)
{
    mongoc_collection_t *cat = catalog(s, c);
    bson_t *filter = BCON_NEW("db", BCON_UTF8(db), "coll", "{", "$exists", BCON_BOOL(true), "}");
    bson_t *opts = BCON_NEW("projection", "{", "coll", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = catalog_find(cat, filter, opts);
    char **names = calloc(1, sizeof *names);
    size_t n = 0;
    const bson_t *doc;
    bool ok = names != NULL;
    while (ok && mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, "coll") || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        char **more = realloc(names, (n + 2) * sizeof *names);
        ok = more != NULL;
        if (ok) {
            names = more;
            names[n] = strdup(bson_iter_utf8(&it, NULL));
            names[n + 1] = NULL;
            ok = names[n++] != NULL;
        }
    }
    bson_error_t e;
    if (!ok)
        mg_error(err, 500, "out of memory");
    else if (mongoc_cursor_error(cur, &e))
        ok = mg_fail(s, &e, "listing the catalog", err);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(cat);
    if (!ok && names) {
        for (size_t i = 0; names[i]; i++)
            free(names[i]);
        free(names);
        names = NULL;
    }
    return names;
}

bool mg_db_drop(void *state, const char *db, const char *if_match, struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    char **names = NULL;
    bool ok = entry_for_drop(s, c, db, NULL, if_match, err) &&
              (names = coll_names(s, c, db, err)) != NULL;
    char id[ID_MAX];
    for (size_t i = 0; ok && names[i]; i++) {
        entry_id(db, names[i], id);
        ok = mg_drop_namespace(s, c, db, names[i], err) && delete_entry(s, c, id, err);
    }
    struct mg_caps caps;
    if (ok)
        ok = mg_caps(s, c, &caps, err);
    if (ok && caps.drop_database) {
        /* Also what the catalog never knew (namespaces made outside the API). */
        bson_t *cmd = BCON_NEW("dropDatabase", BCON_INT32(1));
        bson_error_t e;
        ok = mongoc_client_write_command_with_opts(c, db, cmd, NULL, NULL, &e) ||
             mg_fail(s, &e, "dropping a database", err);
        bson_destroy(cmd);
    }
    if (ok)
        ok = delete_entry(s, c, db, err);
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    mg_release(s, c);
    return ok;
}
