/* users.h: who may log in with a password. Users are documents
 * {"_id": userid, "password": bcrypt hash, "roles": [...]} in the store
 * collection auth.users (managed through the API) or in a JSON file.
 * Passwords are checked with crypt_r; a verified (user, password, hash)
 * triple is remembered per process as a keyed digest, so repeated Basic
 * auth costs one bcrypt, and a changed hash never matches an old entry. */
#ifndef RESTFCGI_USERS_H
#define RESTFCGI_USERS_H

#include <bson/bson.h>

#include "restfcgi_plugin.h"
#include "sv.h"

struct app;
struct cfg;
struct users;

/* In the parent: the users file when configured (passwords must already
 * be bcrypt hashes), and a bcrypt self-test. CONFIG errors. */
bool users_new(const struct cfg *cfg, struct users **out, struct restfcgi_error *err);
/* In each worker: with users in the store and that collection empty (or
 * absent), creates the admin (auth.admin) with the password from the
 * environment variable named by password_env, else a random one printed
 * once to stderr. */
bool users_worker_init(struct users *u, const struct app *app, struct restfcgi_error *err);
void users_free(struct users *u);

/* Checks userid:password and fills acct; a wrong pair or an unknown user is
 * an AUTH 401 (after the same bcrypt work, so timing does not tell which). */
bool users_authenticate(struct users *u, const struct app *app, struct sv userid,
                        struct sv password, struct restfcgi_account *acct,
                        struct restfcgi_error *err);

/* True when db.coll is the store collection holding the users. */
bool users_is_collection(const struct users *u, const char *db, const char *coll);

/* Replaces a string "password" field of doc (top level) by its bcrypt hash;
 * 400 when it is present but not a non-empty string. */
bool users_hash_field(const struct users *u, bson_t *doc, struct restfcgi_error *err);

/* Fills acct from a user document (_id and roles; extra roles dropped). */
void users_account_from_doc(const bson_t *doc, struct restfcgi_account *acct);

#endif
