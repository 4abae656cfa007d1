/* server.h: one worker process: T threads, each an accept loop over libfcgi,
 * until SIGTERM, then requests in flight finish and the process exits 0. */
#ifndef RESTFCGI_SERVER_H
#define RESTFCGI_SERVER_H

#include "app.h"

/* Serves FastCGI on listen_fd (made non-blocking here) with threads accept
 * loops. Blocks SIGTERM/SIGINT/SIGHUP and waits for them itself. Returns the
 * process exit status. app must be worker-initialised. */
int server_run(const struct app *app, int listen_fd, int threads);

/* One request from the CGI environment, stdin and stdout; exit status. */
int server_run_cgi(const struct app *app);

#endif
