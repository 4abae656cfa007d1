#include "../app.h"
#include "../host.h"
#include "handlers.h"

void handle_health(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp)
{
    (void)req;
    (void)route;
    struct restfcgi_error err = {0};
    int64_t start = host_monotonic_ms();
    if (!app_store(app)->ping(app->store.state, &err)) {
        /* Load balancers take the node out on this status. */
        response_error(resp, 503, "store %s unavailable: %s", app->cfg->store_plugin, err.message);
        return;
    }
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "status", "ok");
    BSON_APPEND_UTF8(&doc, "store", app->cfg->store_plugin);
    BSON_APPEND_INT64(&doc, "pingMs", host_monotonic_ms() - start);
    response_json(resp, 200, &doc);
    bson_destroy(&doc);
}
