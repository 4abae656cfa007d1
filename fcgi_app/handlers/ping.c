#include "../host.h"
#include "handlers.h"

void handle_ping(const struct app *app, const struct request *req, const struct route *route,
                 struct response *resp)
{
    (void)app;
    (void)req;
    (void)route;
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "message", "Greetings from restfcgi!");
    BSON_APPEND_UTF8(&doc, "version", RESTFCGI_VERSION);
    response_json(resp, 200, &doc);
    bson_destroy(&doc);
}
