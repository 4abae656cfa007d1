/* plugin_loader.h: dlopen a plugin, check its ABI, run its lifecycle. */
#ifndef RESTFCGI_PLUGIN_LOADER_H
#define RESTFCGI_PLUGIN_LOADER_H

#include "restfcgi_plugin.h"

struct plugin {
    void *dl;
    char *path; /* the file loaded, for messages */
    const struct restfcgi_plugin *desc;
    const struct restfcgi_plugin_lifecycle *life; /* first member of ops */
    void *state;                                   /* from init() */
};

/* Finds KIND_NAME.so (store_sqlite.so, tm_jwt.so) in plugin_dir, or when that
 * is empty beside the executable (DIR/plugins) and then in the install dir;
 * checks ABI major, struct sizes and kind; calls init() with conf. On failure
 * err names the file and the reason, and nothing stays loaded. */
bool plugin_load(struct plugin *p, enum restfcgi_plugin_kind kind, const char *name,
                 const char *plugin_dir, const restfcgi_conf *conf, struct restfcgi_error *err);

/* In a worker process after fork. */
bool plugin_worker_init(struct plugin *p, struct restfcgi_error *err);

/* cleanup() then dlclose(); accepts a plugin never loaded (all zero). */
void plugin_unload(struct plugin *p);

/* The ops table the plugin gave, for the kind asked for at load. */
static inline const void *plugin_ops(const struct plugin *p) { return p->desc->ops; }

#endif
