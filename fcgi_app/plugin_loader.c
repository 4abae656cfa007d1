#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "plugin_loader.h"

#ifndef RESTFCGI_PLUGIN_INSTALL_DIR
#define RESTFCGI_PLUGIN_INSTALL_DIR "/usr/local/lib/restfcgi/plugins"
#endif

static void fail(struct restfcgi_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct restfcgi_error *err, const char *path, const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_PLUGIN;
    err->code = 0;
    int n = snprintf(err->message, sizeof err->message, "%s: ", path);
    if (n < 0 || (size_t)n >= sizeof err->message)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
    va_end(ap);
}

static const char *kind_prefix(enum restfcgi_plugin_kind kind)
{
    return kind == RESTFCGI_PLUGIN_STORE ? "store" : "tm";
}

static const char *kind_name(enum restfcgi_plugin_kind kind)
{
    switch (kind) {
    case RESTFCGI_PLUGIN_STORE:
        return "store";
    case RESTFCGI_PLUGIN_TOKEN_MANAGER:
        return "token manager";
    }
    return "unknown";
}

/* The smallest ops table of each kind the host can use (ABI 1.0). */
static size_t kind_ops_min_size(enum restfcgi_plugin_kind kind)
{
    return kind == RESTFCGI_PLUGIN_STORE ? sizeof(struct restfcgi_store_ops)
                                         : sizeof(struct restfcgi_token_manager_ops);
}

/* dirs to search, in order: plugin_dir alone when set, else beside the binary. */
static bool find_file(const char *plugin_dir, const char *file, char *out, size_t outlen)
{
    char exe[PATH_MAX];
    const char *dirs[3];
    char beside[PATH_MAX + 16];
    size_t n = 0;
    if (plugin_dir && *plugin_dir) {
        dirs[n++] = plugin_dir;
    } else {
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
                snprintf(beside, sizeof beside, "%s/plugins", exe);
                dirs[n++] = beside;
            }
        }
        dirs[n++] = RESTFCGI_PLUGIN_INSTALL_DIR;
    }
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out, outlen, "%s/%s", dirs[i], file);
        if (w > 0 && (size_t)w < outlen && access(out, F_OK) == 0)
            return true;
    }
    /* Report the first place looked, the one a user set or expects. */
    snprintf(out, outlen, "%s/%s", dirs[0], file);
    return false;
}

bool plugin_load(struct plugin *p, enum restfcgi_plugin_kind kind, const char *name,
                 const char *plugin_dir, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    memset(p, 0, sizeof *p);
    char file[128], path[PATH_MAX + 160], symbol[192];
    snprintf(file, sizeof file, "%s_%s.so", kind_prefix(kind), name);
    snprintf(symbol, sizeof symbol, "restfcgi_plugin_%s_%s", kind_prefix(kind), name);
    if (!find_file(plugin_dir, file, path, sizeof path)) {
        fail(err, path, "no such %s plugin file", kind_name(kind));
        return false;
    }
    p->path = strdup(path);
    if (!p->path) {
        fail(err, path, "out of memory");
        return false;
    }
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        fail(err, path, "dlopen failed: %s", dlerror());
        goto fail;
    }
    restfcgi_plugin_entry entry;
    /* POSIX allows this conversion; ISO C does not know dlsym. */
    *(void **)&entry = dlsym(p->dl, symbol);
    if (!entry) {
        fail(err, path, "does not export %s", symbol);
        goto fail;
    }
    const struct restfcgi_plugin *d = entry();
    if (!d) {
        fail(err, path, "%s returned no descriptor", symbol);
        goto fail;
    }
    if (d->abi_major != RESTFCGI_PLUGIN_ABI_MAJOR) {
        fail(err, path, "plugin ABI %u.%u, restfcgi needs ABI major %d", d->abi_major,
             d->abi_minor, RESTFCGI_PLUGIN_ABI_MAJOR);
        goto fail;
    }
    if (d->struct_size < sizeof(struct restfcgi_plugin)) {
        fail(err, path, "descriptor is %u bytes, shorter than the %zu of ABI %d.0",
             d->struct_size, sizeof(struct restfcgi_plugin), RESTFCGI_PLUGIN_ABI_MAJOR);
        goto fail;
    }
    if (d->kind != kind) {
        fail(err, path, "is not a %s plugin (kind %d)", kind_name(kind), (int)d->kind);
        goto fail;
    }
    const struct restfcgi_plugin_lifecycle *life = d->ops;
    if (!life || life->struct_size < kind_ops_min_size(kind)) {
        fail(err, path, "%s ops table is %u bytes, shorter than the %zu needed", kind_name(kind),
             life ? life->struct_size : 0, kind_ops_min_size(kind));
        goto fail;
    }
    if (!life->init || !life->worker_init || !life->cleanup) {
        fail(err, path, "lifecycle functions missing from the ops table");
        goto fail;
    }
    p->desc = d;
    p->life = life;
    struct restfcgi_error perr = {0};
    if (!life->init(host_services(), conf, &p->state, &perr)) {
        fail(err, path, "init failed: %s", perr.message[0] ? perr.message : "no reason given");
        p->state = NULL; /* init cleans up after itself on failure */
        goto fail;
    }
    log_debug("loaded %s plugin %s %s from %s", kind_name(kind), d->name ? d->name : name,
              d->version ? d->version : "", path);
    return true;

fail:
    p->desc = NULL;
    p->life = NULL;
    if (p->dl)
        dlclose(p->dl);
    free(p->path);
    memset(p, 0, sizeof *p);
    return false;
}

bool plugin_worker_init(struct plugin *p, struct restfcgi_error *err)
{
    struct restfcgi_error perr = {0};
    if (p->life->worker_init(p->state, &perr))
        return true;
    *err = perr;
    if (!err->domain)
        err->domain = RESTFCGI_ERR_PLUGIN;
    return false;
}

void plugin_unload(struct plugin *p)
{
    if (!p->dl)
        return;
    if (p->life)
        p->life->cleanup(p->state);
    dlclose(p->dl);
    free(p->path);
    memset(p, 0, sizeof *p);
}
