/* sq_stmt.c: each thread's connection and its prepared statements.
 *
 * Parsing and planning SQL was a fifth of a GET by _id (perf), so every
 * statement the store runs is prepared once per connection and reused:
 * the cache is keyed by the SQL text (a few are built with snprintf), and
 * a statement in use is never handed out twice (nested uses get their own,
 * finalized when done). */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define SQ_STMT_SLOTS 64

struct sq_slot {
    uint64_t hash;
    sqlite3_stmt *st;
    bool busy;
};

struct sq_connection {
    sqlite3 *db;
    size_t n;
    struct sq_slot slot[SQ_STMT_SLOTS];
    struct sq_skip_memo *skip; /* sq_skip.c: dies with the connection */
};

/* The connection of this thread, for sq_prepare's lookups by db. */
static __thread struct sq_connection *this_thread;

static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct sq_connection *sq_connection_new(sqlite3 *db)
{
    struct sq_connection *c = calloc(1, sizeof *c);
    if (c)
        c->db = db;
    return c;
}

sqlite3 *sq_connection_db(struct sq_connection *c)
{
    this_thread = c;
    return c->db;
}

struct sq_connection *sq_connection_swap(struct sq_connection *c)
{
    struct sq_connection *was = this_thread;
    this_thread = c;
    return was;
}

void sq_connection_close(struct sq_connection *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        sqlite3_finalize(c->slot[i].st);
    sq_skip_memo_free(c->skip);
    sqlite3_close_v2(c->db);
    if (this_thread == c)
        this_thread = NULL;
    free(c);
}

struct sq_skip_memo **sq_connection_skip_memo(sqlite3 *db)
{
    return this_thread && this_thread->db == db ? &this_thread->skip : NULL;
}

int sq_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    struct sq_connection *c = this_thread && this_thread->db == db ? this_thread : NULL;
    *out = NULL;
    if (!c)
        return sqlite3_prepare_v2(db, sql, -1, out, NULL);
    uint64_t h = text_hash(sql);
    for (size_t i = 0; i < c->n; i++) {
        struct sq_slot *s = &c->slot[i];
        if (s->hash == h && !s->busy && strcmp(sqlite3_sql(s->st), sql) == 0) {
            s->busy = true;
            *out = s->st;
            return SQLITE_OK;
        }
    }
    if (c->n == SQ_STMT_SLOTS)
        return sqlite3_prepare_v2(db, sql, -1, out, NULL);
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc == SQLITE_OK && *out)
        c->slot[c->n++] = (struct sq_slot){.hash = h, .st = *out, .busy = true};
    return rc;
}

void sq_done(sqlite3_stmt *st)
{
    struct sq_connection *c = this_thread;
    if (!st)
        return;
    for (size_t i = 0; c && i < c->n; i++) {
        if (c->slot[i].st == st) {
            /* Reset ends the statement's hold on its read snapshot. */
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->slot[i].busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

int sq_exec(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db, sql, &st);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}
