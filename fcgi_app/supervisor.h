/* supervisor.h: pre-forks N workers on one listening socket and keeps them
 * running: respawn with back-off, SIGTERM graceful stop, SIGHUP reload. */
#ifndef RESTFCGI_SUPERVISOR_H
#define RESTFCGI_SUPERVISOR_H

#include "app.h"
#include "config.h"

/* How to build a config again on SIGHUP: the file and the CLI overrides. */
struct supervisor_reload {
    const char *config_path; /* NULL: built-in defaults */
    /* Applies the command line's overrides to a freshly loaded config. */
    void (*apply_overrides)(struct cfg *cfg, void *ctx);
    void *ctx;
};

/* Takes ownership of cfg and app (already app_init'ed in this process).
 * Returns the exit status: 0 after a graceful stop. */
int supervisor_run(struct cfg *cfg, struct app *app, int listen_fd,
                   const struct supervisor_reload *reload);

#endif
