/* listen.h: the listening socket, inherited or opened from an address. */
#ifndef RESTFCGI_LISTEN_H
#define RESTFCGI_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* True when fd is a listening socket (spawn-fcgi, lighttpd bin-path and
 * mod_fcgid hand the application one on fd 0). */
bool listen_is_inherited(int fd);

/* Opens "unix:/path", "HOST:PORT" (IPv4) or "[V6]:PORT". A stale unix
 * socket file nobody listens on is replaced; a live one is an error.
 * Returns the fd, or -1 with err filled. */
int listen_open(const char *addr, char *err, size_t errlen);

/* Removes the unix socket file listen_open created, if any. */
void listen_cleanup(const char *addr);

#endif
