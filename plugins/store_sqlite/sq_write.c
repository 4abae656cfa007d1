/* sq_write.c: every write of the store, batched by group commit.
 *
 * A commit costs an fsync (synchronous=FULL), so one commit per write caps a
 * node near the disk's fsync rate. Instead each process has one write
 * connection: a write joins the transaction open on it, runs in a SAVEPOINT
 * of its own (a failing write rolls back only itself), and the last writer
 * of the group (no other thread of the process waiting to join) commits for
 * all. Every writer answers only after that COMMIT returned; when it fails,
 * every write of the group fails (503).
 *
 * Between processes, a flock() on restfcgi.sqlite-writer is held from BEGIN
 * IMMEDIATE to COMMIT: a waiting process retries it after short sleeps (20 us
 * to 1 ms, up to busy_timeout_ms), where SQLite's busy handler sleeps up to
 * 100 ms at a time. The kernel releases it when its holder dies, and SQLite
 * then ignores the uncommitted transaction; SQLite's own lock and busy
 * handler still guard against writers that do not take it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sq.h"

/* SQLite's default wal_autocheckpoint. */
#define SQ_CHECKPOINT_PAGES 1000

struct sq_writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t pid;                  /* the process conn and lock_fd belong to */
    struct sq_connection *conn; /* the process's write connection */
    sqlite3 *db;                /* ... and its db */
    int lock_fd;                /* flock()ed while a transaction is open */
    bool in_use;                /* a writer (or the commit) has conn */
    bool open;                  /* a transaction is open on conn */
    bool broken;                /* it was rolled back under the group: all of it fails */
    unsigned queued;            /* threads waiting for conn */
    int wal_pages;              /* the WAL's size after the last commit */
    struct member *members;     /* the writes of the open group, waiting for its end */
};

/* One write of a group, on its thread's stack until the group ended. */
struct member {
    struct member *next;
    bool ended, committed;
    bool checkpoint; /* this write's thread ended the group and checkpoints */
    char why[200]; /* when not committed */
};

/* This thread's own statement cache, while a write uses the process's. */
static __thread struct sq_connection *outer;

/* A batch of this thread (sq_batch): its writes keep the write connection
 * from the first to sq_batch_end, which ends the group for all of them. */
static __thread struct {
    struct sq_writer *w; /* the writer of the store batching, or NULL */
    bool held;           /* conn is this thread's since the batch's first write */
    bool failed;         /* the transaction was lost: the batch's writes fail */
} batch;

struct sq_writer *sq_writer_new(void)
{
    struct sq_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->lock_fd = -1;
    return w;
}

void sq_writer_free(struct sq_writer *w)
{
    if (!w)
        return;
    if (w->pid == getpid()) {
        sq_connection_close(w->conn);
        if (w->lock_fd >= 0)
            close(w->lock_fd);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* After each commit: the WAL's size in pages. */
static int wal_grew(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    ((struct sq_writer *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

/* The write connection and the lock file, opened in each process on its
 * first write (never shared across fork). Called with conn held. */
static bool writer_ready(struct store *s, struct sq_writer *w, struct restfcgi_error *err)
{
    if (w->pid != getpid()) {
        /* Inherited through fork: the parent's, not ours to close. */
        w->conn = NULL;
        w->db = NULL;
        w->lock_fd = -1;
        w->pid = getpid();
    }
    if (w->lock_fd < 0) {
        size_t n = strlen(s->file) + sizeof "-writer";
        char *path = malloc(n);
        if (!path)
            return sq_error(err, 503, "out of memory opening the sqlite store");
        snprintf(path, n, "%s-writer", s->file);
        /* sq_conn made the directory; the file is never removed, so every
         * process locks the same inode. */
        w->lock_fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        int e = errno;
        free(path);
        if (w->lock_fd < 0)
            return sq_error(err, 503, "cannot open the sqlite store's lock file: %s", strerror(e));
    }
    if (!w->conn) {
        sqlite3 *db = sq_open(s, err);
        if (!db)
            return false;
        /* Replaces SQLite's automatic checkpoint, which would run inside
         * COMMIT with the node's lock held (see sq_write_end). */
        sqlite3_wal_hook(db, wal_grew, w);
        w->conn = sq_connection_new(db);
        if (!w->conn) {
            sqlite3_close_v2(db);
            return sq_error(err, 503, "out of memory opening the sqlite store");
        }
        w->db = db;
    }
    return true;
}

/* The node's lock within timeout_ms, else an errno: a holder that hangs
 * (stopped, stuck on a dead disk) must not hang every writer of the node,
 * and a blocking flock() cannot time out. Sleeps from 20 us doubling to
 * 1 ms, short against a commit (~0.6 ms). */
static int lock_node(int fd, int64_t timeout_ms)
{
    int64_t waited_us = 0;
    useconds_t nap = 20;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return errno;
        if (waited_us >= timeout_ms * 1000)
            return ETIMEDOUT;
        usleep(nap);
        waited_us += nap;
        nap = nap < 500 ? nap * 2 : 1000;
    }
    return 0;
}

/* Opens the group's transaction: the node's lock, then BEGIN IMMEDIATE. */
static bool group_open(struct sq_writer *w, sqlite3 *db, int64_t timeout_ms,
                       struct restfcgi_error *err)
{
    int e = lock_node(w->lock_fd, timeout_ms);
    if (e == ETIMEDOUT)
        return sq_error(err, 503, "sqlite store: another process held the write lock for %lld ms",
                        (long long)timeout_ms);
    if (e)
        return sq_error(err, 503, "sqlite store: locking for a write: %s", strerror(e));
    if (!sq_begin(db, err)) {
        flock(w->lock_fd, LOCK_UN);
        return false;
    }
    return true;
}

/* Ends the open group with COMMIT when ok, else ROLLBACK, and lets the
 * next process write. Called with conn held, mu not. */
static bool group_close(struct sq_writer *w, sqlite3 *db, bool ok, char *msg, size_t size)
{
    if (ok && sq_exec(db, "COMMIT") != SQLITE_OK) {
        snprintf(msg, size, "sqlite store: committing: %s", sqlite3_errmsg(db));
        ok = false;
    } else if (!ok && !msg[0]) {
        snprintf(msg, size, "sqlite store: the write was rolled back with others");
    }
    sq_rollback(db); /* after a failed COMMIT, or for ok == false */
    flock(w->lock_fd, LOCK_UN);
    return ok;
}

/* Hands conn on, with mu held: to a thread waiting to join the open group,
 * else ends the group (COMMIT, or ROLLBACK when broken) and tells its
 * members. */
static void hand_on(struct sq_writer *w, struct member *me)
{
    if (w->open && (!w->queued || w->broken)) {
        struct member *m = w->members;
        bool commit = !w->broken;
        char why[sizeof m->why] = "";
        w->members = NULL;
        pthread_mutex_unlock(&w->mu);
        struct sq_connection *was = sq_connection_swap(w->conn);
        bool committed = group_close(w, w->db, commit, why, sizeof why);
        sq_connection_swap(was);
        pthread_mutex_lock(&w->mu);
        w->open = false;
        if (w->wal_pages >= SQ_CHECKPOINT_PAGES) {
            me->checkpoint = true;
            w->wal_pages = 0;
        }
        for (; m; m = m->next) {
            m->ended = true;
            m->committed = committed;
            memcpy(m->why, why, sizeof why);
        }
    }
    w->in_use = false;
    pthread_cond_broadcast(&w->cv);
}

/* Copies the WAL into the database once it passed SQ_CHECKPOINT_PAGES (as
 * SQLite would itself), after the group's answer and with the thread's own
 * connection: no writer waits for it, only this thread's answer does. */
static void checkpoint(struct store *s, const struct member *me)
{
    struct restfcgi_error err = {0};
    sqlite3 *db = me->checkpoint ? sq_conn(s, &err) : NULL;
    /* PASSIVE: never waits, and leaves what readers still use. */
    if (db)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* Gives conn back as a member of the open group (broken: its transaction
 * was lost) and waits for the group's end, which fills *me. */
static void await_group_end(struct store *s, struct sq_writer *w, bool broken, struct member *me)
{
    pthread_mutex_lock(&w->mu);
    w->broken = w->broken || broken;
    me->next = w->members;
    w->members = me;
    hand_on(w, me);
    while (!me->ended)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    checkpoint(s, me);
}

sqlite3 *sq_write_begin(struct store *s, struct restfcgi_error *err)
{
    struct sq_writer *w = s->writer;
    if (batch.w == w && batch.failed) {
        sq_error(err, 503, "sqlite store: the batch's transaction was lost");
        return NULL;
    }
    /* In a batch after its first write, the group is open and conn still
     * this thread's: the write only adds its SAVEPOINT. */
    bool joined = batch.w == w && batch.held;
    if (!joined) {
        pthread_mutex_lock(&w->mu);
        w->queued++;
        while (w->in_use)
            pthread_cond_wait(&w->cv, &w->mu);
        w->queued--;
        w->in_use = true;
        pthread_mutex_unlock(&w->mu);

        /* conn is ours until hand_on, and with it the fields below; its
         * statement cache is this thread's until sq_write_end. */
        if (!writer_ready(s, w, err)) {
            pthread_mutex_lock(&w->mu);
            w->in_use = false;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
    }
    outer = sq_connection_swap(w->conn);
    sqlite3 *db = w->db;
    bool ok = true;
    if (!w->open) {
        ok = group_open(w, db, s->busy_timeout_ms, err);
        w->open = ok;
        w->broken = false;
    }
    if (ok && sq_exec(db, "SAVEPOINT w") != SQLITE_OK)
        ok = sq_db_error(err, db, "starting a write");
    if (ok) {
        batch.held = batch.w == w;
        return db;
    }
    /* Nothing of ours is in the group; it may still need its end (the
     * batch's end, when conn stays the batch's). */
    sq_connection_swap(outer);
    if (joined)
        return NULL;
    struct member none = {0};
    pthread_mutex_lock(&w->mu);
    w->broken = w->broken || (w->open && sqlite3_get_autocommit(db));
    hand_on(w, &none);
    pthread_mutex_unlock(&w->mu);
    checkpoint(s, &none);
    return NULL;
}

bool sq_write_end(struct store *s, bool ok, struct restfcgi_error *err)
{
    struct sq_writer *w = s->writer;
    sqlite3 *db = w->db;
    /* Some errors (I/O, disk full, interrupt) roll back the whole
     * transaction: the writes of the group before ours are gone too. */
    bool intact = !sqlite3_get_autocommit(db);
    if (intact && !ok)
        intact = sq_exec(db, "ROLLBACK TO w") == SQLITE_OK;
    if (intact)
        intact = sq_exec(db, "RELEASE w") == SQLITE_OK;
    sq_connection_swap(outer);
    if (batch.w == w && batch.held) {
        if (intact)
            return ok; /* answered, like the others, at sq_batch_end */
        batch.failed = true;
        batch.held = false;
    }

    struct member me = {0};
    await_group_end(s, w, !intact, &me);
    if (me.committed || (!ok && err->code >= 500))
        return ok;
    /* What this write read may never have been: it fails as a whole. */
    return sq_error(err, 503, "%s", me.why);
}

void sq_batch_begin(struct store *s)
{
    batch.w = s->writer;
    batch.held = false;
    batch.failed = false;
}

bool sq_batch_end(struct store *s, struct restfcgi_error *err)
{
    struct sq_writer *w = s->writer;
    bool held = batch.w == w && batch.held, failed = batch.w == w && batch.failed;
    batch.w = NULL;
    batch.held = false;
    batch.failed = false;
    if (failed)
        return sq_error(err, 503, "sqlite store: the batch's transaction was lost");
    if (!held)
        return true; /* no write of the batch reached the store */
    struct member me = {0};
    await_group_end(s, w, false, &me);
    return me.committed || sq_error(err, 503, "%s", me.why);
}
