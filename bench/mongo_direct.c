/*
 * mongo_direct: the baseline for bench/mongo.sh — the operations the REST
 * benchmark does, done directly with libmongoc, at the same concurrency.
 *
 *   mongo_direct URI find|insert THREADS SECONDS DB COLL [ID]
 *   mongo_direct URI clear DB COLL
 *
 * THREADS threads share one mongoc_client_pool_t (max size THREADS); each
 * pops its own client once (as a wrk connection stays open) and loops until
 * the deadline: `find` is find_one by _id (a string ID: limit 1, the
 * document must be found), `insert` is insert_one of the document wrk POSTs
 * plus the `_etag` ObjectId restfcgi adds (the driver adds `_id`). Prints
 * "OPS_PER_SECOND ops/s (N ops, E errors)"; exit 1 if any operation failed.
 * `clear` deletes every document of DB.COLL (delete_many; jongodb has no
 * drop) and prints how many.
 *
 * Build: cc -O2 -o mongo_direct mongo_direct.c $(pkg-config --cflags --libs libmongoc-1.0) -lpthread
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
    mongoc_client_pool_t *pool;
    const char *db, *coll, *id;
    int insert;
    double deadline;
    uint64_t ops, errors;
    char error[640];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_error(struct job *j, const char *what, const bson_error_t *err)
{
    if (j->errors++ == 0)
        snprintf(j->error, sizeof j->error, "%s: %.500s", what, err ? err->message : "not found");
}

/* The driver's warnings, except the endSessions one jongodb (which lacks the
 * command) causes when the pool is destroyed. */
static void log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                        void *data)
{
    (void)data;
    if (level <= MONGOC_LOG_LEVEL_WARNING && !strstr(message, "endSessions"))
        fprintf(stderr, "mongoc %s: %s\n", domain, message);
}

static void *run(void *arg)
{
    struct job *j = arg;
    mongoc_client_t *client = mongoc_client_pool_pop(j->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, j->db, j->coll);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(j->id ? j->id : ""));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    bson_error_t err;

    while (now_s() < j->deadline) {
        if (j->insert) {
            bson_oid_t etag;
            bson_oid_init(&etag, NULL);
            bson_t *doc = BCON_NEW("name", BCON_UTF8("inserted by wrk"), "n", BCON_INT32(42),
                                   "tags", "[", BCON_UTF8("a"), BCON_UTF8("b"), "]",
                                   "_etag", BCON_OID(&etag));
            if (mongoc_collection_insert_one(coll, doc, NULL, NULL, &err))
                j->ops++;
            else
                note_error(j, "insert_one", &err);
            bson_destroy(doc);
        } else {
            mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
            const bson_t *doc;
            if (mongoc_cursor_next(cur, &doc))
                j->ops++;
            else if (mongoc_cursor_error(cur, &err))
                note_error(j, "find", &err);
            else
                note_error(j, "find", NULL);
            mongoc_cursor_destroy(cur);
        }
    }
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(j->pool, client);
    return NULL;
}

int main(int argc, char **argv)
{
    int is_clear = argc == 5 && !strcmp(argv[2], "clear");
    if (!is_clear && (argc < 7 || (strcmp(argv[2], "find") && strcmp(argv[2], "insert")) ||
                      (!strcmp(argv[2], "find") && argc < 8))) {
        fprintf(stderr, "usage: %s URI find|insert THREADS SECONDS DB COLL [ID]\n"
                        "       %s URI clear DB COLL\n", argv[0], argv[0]);
        return 2;
    }
    mongoc_init();
    mongoc_log_set_handler(log_handler, NULL);
    bson_error_t err;
    if (is_clear) {
        mongoc_client_t *c = mongoc_client_new(argv[1]);
        if (!c) {
            fprintf(stderr, "bad URI\n");
            return 2;
        }
        mongoc_collection_t *coll = mongoc_client_get_collection(c, argv[3], argv[4]);
        bson_t all = BSON_INITIALIZER, reply;
        bool ok = mongoc_collection_delete_many(coll, &all, NULL, &reply, &err);
        if (ok) {
            bson_iter_t it;
            printf("%lld\n", bson_iter_init_find(&it, &reply, "deletedCount")
                                ? (long long)bson_iter_as_int64(&it) : -1LL);
        } else {
            fprintf(stderr, "delete_many %s.%s: %s\n", argv[3], argv[4], err.message);
        }
        bson_destroy(&reply);
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(c);
        mongoc_cleanup();
        return ok ? 0 : 1;
    }
    int threads = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if (threads < 1 || threads > 1024 || seconds <= 0) {
        fprintf(stderr, "bad THREADS or SECONDS\n");
        return 2;
    }
    mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &err);
    if (!uri) {
        fprintf(stderr, "bad URI: %s\n", err.message);
        return 2;
    }
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_max_size(pool, (uint32_t)threads);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);

    /* Reach the server once before the clock starts. */
    {
        mongoc_client_t *c = mongoc_client_pool_pop(pool);
        bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
        bool ok = mongoc_client_command_simple(c, "admin", ping, NULL, NULL, &err);
        bson_destroy(ping);
        mongoc_client_pool_push(pool, c);
        if (!ok) {
            fprintf(stderr, "ping: %s\n", err.message);
            return 1;
        }
    }

    struct job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!jobs || !tids)
        return 1;
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.pool = pool, .db = argv[5], .coll = argv[6],
                               .id = argc > 7 ? argv[7] : NULL,
                               .insert = !strcmp(argv[2], "insert"), .deadline = start + seconds};
        if (pthread_create(&tids[i], NULL, run, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    uint64_t ops = 0, errors = 0;
    const char *first_error = NULL;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        ops += jobs[i].ops;
        errors += jobs[i].errors;
        if (jobs[i].errors && !first_error)
            first_error = jobs[i].error;
    }
    double elapsed = now_s() - start;
    printf("%.2f ops/s (%llu ops, %llu errors)\n", (double)ops / elapsed,
           (unsigned long long)ops, (unsigned long long)errors);
    if (first_error)
        fprintf(stderr, "first error: %s\n", first_error);
    free(jobs);
    free(tids);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return errors ? 1 : 0;
}
