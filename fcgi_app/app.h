/* app.h: the application state shared by a worker's threads (config and
 * loaded plugins), and the request path: parse -> route -> handler -> send. */
#ifndef RESTFCGI_APP_H
#define RESTFCGI_APP_H

#include "arena.h"
#include "config.h"
#include "plugin_loader.h"
#include "request.h"
#include "response.h"

struct app {
    const struct cfg *cfg;
    struct plugin store;
    struct plugin tm; /* the token manager */
    struct security *sec; /* users, permissions, login guard (auth.h) */
};

/* In the parent: loads and initialises the plugins the config names. */
bool app_init(struct app *app, const struct cfg *cfg, struct restfcgi_error *err);
/* In each worker process after fork. A store that cannot be reached is a
 * failure only with store.require_at_start; else it is logged, and requests
 * needing it answer 503 until it is back. */
bool app_worker_init(struct app *app, struct restfcgi_error *err);

/* The store plugin's operations. */
const struct restfcgi_store_ops *app_store(const struct app *app);
/* The token manager's operations. */
const struct restfcgi_token_manager_ops *app_tm(const struct app *app);
void app_free(struct app *app);

/* Serves one request. *body_unread is set when the body was refused before
 * it was read, so a FastCGI caller must drain or drop the connection.
 * False when the response could not be written (the peer went away). */
bool app_handle(const struct app *app, struct arena *arena, const struct request_io *io,
                const struct response_sink *sink, bool *body_unread);

#endif
