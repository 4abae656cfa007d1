/*
 * token_table.h: the memory token manager's table of live tokens, in POSIX
 * shared memory that every worker process of the node maps, so that a token
 * issued by one process verifies in all of them and a revocation is seen by
 * all at once.
 *
 * Entries are keyed by the SHA-256 of the token (the token itself is never
 * stored), in a fixed number of slots with LRU eviction when full. One
 * process-shared robust mutex guards the table: a process killed while
 * holding it leaves the table reset (every token forgotten), never locked.
 */
#ifndef RESTFCGI_TOKEN_TABLE_H
#define RESTFCGI_TOKEN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "restfcgi_plugin.h"

#define TOKEN_HASH_LEN 32

struct token_table;

/* Maps the table called name (created with capacity slots when it does not
 * exist yet; an existing table keeps its own capacity). The table lives as
 * long as some process has it attached. NULL with err set on failure. */
struct token_table *token_table_attach(const char *name, uint32_t capacity,
                                       struct restfcgi_error *err);
/* Unmaps; the last process to detach removes the table. */
void token_table_detach(struct token_table *t);

/* Stores hash -> acct, expiring at expires_ms; evicts the least recently
 * used entry when the table is full. */
bool token_table_put(struct token_table *t, const uint8_t hash[TOKEN_HASH_LEN],
                     const struct restfcgi_account *acct, int64_t expires_ms,
                     struct restfcgi_error *err);

/* Looks hash up: true and *acct, *expires_ms when present and not expired
 * at now_ms (expired entries are freed on the way). When extend_ms > 0 the
 * expiry becomes now_ms + extend_ms (sliding ttl) and the entry the most
 * recently used. */
bool token_table_get(struct token_table *t, const uint8_t hash[TOKEN_HASH_LEN], int64_t now_ms,
                     int64_t extend_ms, struct restfcgi_account *acct, int64_t *expires_ms);

/* Removes every entry of userid; returns how many. */
size_t token_table_revoke(struct token_table *t, const char *userid);

/* Entries in use (expired ones included until they are met). */
size_t token_table_count(struct token_table *t);

#endif
