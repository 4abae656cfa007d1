/* names.h: what may name a database, a collection, an index. */
#ifndef RESTFCGI_NAMES_H
#define RESTFCGI_NAMES_H

#include "restfcgi_plugin.h"
#include "sv.h"

enum name_kind { NAME_DB, NAME_COLL, NAME_INDEX };

/* Checks a decoded path segment as a name of that kind and copies it to out
 * (NUL-terminated). Reserved names (starting with '_', "system.*" for
 * collections) are 403 as in RESTHeart; empty, too long, '$', '/', '\\',
 * '.' in database names, spaces at the ends: 400. */
bool name_check(enum name_kind kind, struct sv name, char *out, size_t outlen,
                struct restfcgi_error *err);

#define NAME_MAX_LEN 120

#endif
