/* sq_skip.c: where a page deep into a collection starts.
 *
 * Without a filter, in _id order, the page starts skip documents into the
 * table and SQLite steps over them itself (OFFSET); that still costs about
 * 30 us per thousand documents, so page 1000 of 10 was five times page 1.
 * Each connection also remembers, per collection and direction, the key it
 * found at a position (the first and last document of the pages it
 * served), and a page at or past that position seeks to the key and skips
 * only the rest. The memo holds while the database is unchanged: SQLite's
 * data version (SQLITE_FCNTL_DATA_VERSION), which any commit by any
 * connection changes and which its own page cache trusts the same way. */
#include <string.h>

#include "sq.h"

#define SKIP_SLOTS 8

struct skip_slot {
    int64_t coll, pos;
    bool ascending;
    size_t len;
    unsigned char *key; /* NULL: unused */
};

struct sq_skip_memo {
    unsigned version;
    size_t next; /* the slot the next note replaces */
    struct skip_slot slot[SKIP_SLOTS];
};

static void memo_clear(struct sq_skip_memo *m)
{
    for (size_t i = 0; i < SKIP_SLOTS; i++) {
        bson_free(m->slot[i].key);
        m->slot[i] = (struct skip_slot){0};
    }
}

void sq_skip_memo_free(struct sq_skip_memo *m)
{
    if (m)
        memo_clear(m);
    bson_free(m);
}

/* The memo of db (this thread's connection), emptied when the database
 * changed since its notes; NULL without one. Called inside the read
 * transaction, whose snapshot the data version then names. */
static struct sq_skip_memo *memo_of(sqlite3 *db)
{
    struct sq_skip_memo **m = sq_connection_skip_memo(db);
    unsigned version = 0;
    if (!m || sqlite3_file_control(db, "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK)
        return NULL;
    if (!*m) {
        *m = bson_malloc0(sizeof **m);
        (*m)->version = version;
    } else if ((*m)->version != version) {
        memo_clear(*m);
        (*m)->version = version;
    }
    return *m;
}

bool sq_scan_from(struct sq_coll *c, bool ascending, int64_t skip, sqlite3_stmt **out,
                  struct restfcgi_error *err)
{
    const struct sq_skip_memo *m = memo_of(c->db);
    const struct skip_slot *from = NULL;
    for (size_t i = 0; m && i < SKIP_SLOTS; i++) {
        const struct skip_slot *s = &m->slot[i];
        if (s->key && s->coll == c->id && s->ascending == ascending && s->pos <= skip &&
            (!from || s->pos > from->pos))
            from = s;
    }
    const char *sql;
    if (from)
        sql = ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 AND k >= ?3 ORDER BY k "
                          "LIMIT -1 OFFSET ?2"
                        : "SELECT k, doc FROM docs WHERE coll = ?1 AND k <= ?3 ORDER BY k DESC "
                          "LIMIT -1 OFFSET ?2";
    else
        sql = ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 ORDER BY k LIMIT -1 OFFSET ?2"
                        : "SELECT k, doc FROM docs WHERE coll = ?1 ORDER BY k DESC LIMIT -1 OFFSET ?2";
    if (sq_prepare(c->db, sql, out) != SQLITE_OK)
        return sq_db_error(err, c->db, "planning a query");
    sqlite3_bind_int64(*out, 1, c->id);
    sqlite3_bind_int64(*out, 2, skip - (from ? from->pos : 0));
    /* A copy: notes taken while the rows are read may replace the slot. */
    if (from)
        sqlite3_bind_blob(*out, 3, from->key, (int)from->len, SQLITE_TRANSIENT);
    c->plan_index = NULL;
    return true;
}

void sq_skip_note(struct sq_coll *c, bool ascending, int64_t pos, const void *key, size_t len)
{
    struct sq_skip_memo *m = memo_of(c->db);
    if (!m || !key)
        return;
    for (size_t i = 0; i < SKIP_SLOTS; i++) {
        const struct skip_slot *s = &m->slot[i];
        if (s->key && s->coll == c->id && s->ascending == ascending && s->pos == pos)
            return;
    }
    struct skip_slot *s = &m->slot[m->next];
    m->next = (m->next + 1) % SKIP_SLOTS;
    bson_free(s->key);
    *s = (struct skip_slot){.coll = c->id, .pos = pos, .ascending = ascending, .len = len,
                            .key = bson_malloc(len ? len : 1)};
    memcpy(s->key, key, len);
}
