/* handlers.h: one handler per resource kind and method; each file of this
 * directory serves one resource kind. Handlers get validated views, fill a
 * response, and never format an error body themselves (response_error). */
#ifndef RESTFCGI_HANDLERS_H
#define RESTFCGI_HANDLERS_H

#include "../router.h"

/* GET/HEAD /ping: no authentication, no store access. */
void handle_ping(const struct app *app, const struct request *req, const struct route *route,
                 struct response *resp);

/* GET/HEAD /health: a round trip to the store; 200 or 503. No auth. */
void handle_health(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp);

/* Databases and the collection catalog (dbs.c). */
void handle_root_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp);
void handle_db_get(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp);
void handle_db_put(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp);
void handle_db_delete(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);
void handle_db_meta(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp);
void handle_coll_put(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp);
void handle_coll_delete(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp);
void handle_coll_meta(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);

/* Collections as document sets (colls.c). */
void handle_coll_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp);
void handle_coll_post(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);
void handle_coll_size(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);
void handle_bulk_patch(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp);
void handle_bulk_delete(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp);

/* Indexes (indexes.c) and aggregations (aggrs.c). */
void handle_indexes_get(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp);
void handle_index_put(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);
void handle_index_delete(const struct app *app, const struct request *req,
                         const struct route *route, struct response *resp);
void handle_aggr_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp);

/* Documents (docs.c). */
void handle_doc_get(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp);
void handle_doc_put(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp);
void handle_doc_patch(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);
void handle_doc_delete(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp);

/* Authentication services (tokens.c): the caller's own token and roles. */
void handle_tokens_get(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp);
void handle_tokens_delete(const struct app *app, const struct request *req,
                          const struct route *route, struct response *resp);
void handle_roles_get(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp);

#endif
