/* host.h: the services restfcgi offers its plugins (struct restfcgi_host). */
#ifndef RESTFCGI_HOST_H
#define RESTFCGI_HOST_H

#include "restfcgi_plugin.h"

#define RESTFCGI_VERSION "0.1.0"

const struct restfcgi_host *host_services(void);

int64_t host_now_ms(void);
int64_t host_monotonic_ms(void);
bool host_random_bytes(void *buf, size_t len);
/* Names this node's instance (the memory token table) after the config
 * file, or the working directory without one, and own_listen_fd, the
 * socket restfcgi opened itself (-1 when inherited or in CGI mode). */
void host_set_instance(const char *config_path, int own_listen_fd);
/* The worker_threads service's answer: this process's accept loops. */
void host_set_worker_threads(uint32_t n);

#endif
