/* brute_force.h: failed logins counted per client address, in this process.
 * After max_failures within window_s, requests with credentials from that
 * address get 429 until the window has passed; a success clears the count. */
#ifndef RESTFCGI_BRUTE_FORCE_H
#define RESTFCGI_BRUTE_FORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "sv.h"

struct brute_force;

struct brute_force *brute_force_new(int64_t max_failures, int64_t window_s);
void brute_force_free(struct brute_force *bf);

/* True while addr is locked out; *retry_after_s then says for how long (0 otherwise). */
bool brute_force_blocked(struct brute_force *bf, struct sv addr, int64_t now_ms,
                         int64_t *retry_after_s);
void brute_force_failed(struct brute_force *bf, struct sv addr, int64_t now_ms);
void brute_force_succeeded(struct brute_force *bf, struct sv addr);

#endif
