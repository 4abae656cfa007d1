/* A store plugin built once per defect (BROKEN_*), to prove the loader
 * refuses each with a clear message and loads nothing half-way. */
#include <stdio.h>
#include <string.h>

#include "restfcgi_plugin.h"

static bool t_init(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                   struct restfcgi_error *err)
{
    (void)host;
    (void)conf;
    *state = NULL;
#ifdef BROKEN_INIT_FAILS
    err->domain = RESTFCGI_ERR_CONFIG;
    snprintf(err->message, sizeof err->message, "test plugin refuses to initialise");
    return false;
#else
    (void)err;
    return true;
#endif
}

static bool t_worker_init(void *state, struct restfcgi_error *err)
{
    (void)state;
    (void)err;
    return true;
}

static void t_cleanup(void *state) { (void)state; }

static bool t_ping(void *state, struct restfcgi_error *err)
{
    (void)state;
    (void)err;
    return true;
}

static const struct restfcgi_store_ops ops = {
    .life =
        {
#ifdef BROKEN_SHORT_OPS
            .struct_size = sizeof(struct restfcgi_plugin_lifecycle),
#else
            .struct_size = sizeof(struct restfcgi_store_ops),
#endif
            .init = t_init,
            .worker_init = t_worker_init,
            .cleanup = t_cleanup,
        },
    .ping = t_ping,
};

static const struct restfcgi_plugin descriptor = {
#ifdef BROKEN_BAD_MAJOR
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR + 98,
#else
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
#endif
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
#ifdef BROKEN_SHORT_STRUCT
    .struct_size = 8,
#else
    .struct_size = sizeof(struct restfcgi_plugin),
#endif
#ifdef BROKEN_WRONG_KIND
    .kind = RESTFCGI_PLUGIN_TOKEN_MANAGER,
#else
    .kind = RESTFCGI_PLUGIN_STORE,
#endif
    .name = "test",
    .version = "0",
    .ops = &ops,
};

#ifdef BROKEN_NO_SYMBOL
/* Exports an entry point under a name the loader does not look for. */
RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_misnamed(void);
const struct restfcgi_plugin *restfcgi_plugin_misnamed(void) { return &descriptor; }
#else
RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *PLUGIN_SYMBOL(void);
const struct restfcgi_plugin *PLUGIN_SYMBOL(void) { return &descriptor; }
#endif
