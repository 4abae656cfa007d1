#include <stdio.h>
#include <string.h>

#include "client_error.h"
#include "names.h"

bool name_check(enum name_kind kind, struct sv name, char *out, size_t outlen,
                struct restfcgi_error *err)
{
    static const char *const what[] = {"database", "collection", "index"};
    const char *w = what[kind];
    if (name.len == 0)
        return client_error(err, 400, "empty %s name", w);
    if (name.len > NAME_MAX_LEN || name.len >= outlen)
        return client_error(err, 400, "%s name longer than %d bytes", w, NAME_MAX_LEN);
    /* MongoDB forbids these in database names; '$' also in collections. */
    const char *bad = kind == NAME_DB ? "/\\. \"$*<>:|?" : kind == NAME_COLL ? "$" : "";
    for (size_t i = 0; i < name.len; i++) {
        if (strchr(bad, name.ptr[i]) && name.ptr[i] != '\0')
            return client_error(err, 400, "'%c' is not allowed in a %s name", name.ptr[i], w);
    }
    if (kind != NAME_INDEX && name.ptr[0] == '_')
        return client_error(err, 403, "%s names starting with '_' are reserved", w);
    /* MongoDB's own databases (users and roles, the oplog, sharding
     * metadata): reserved on every store, so data moves between them. */
    if (kind == NAME_DB && (sv_eq_cstr(name, "admin") || sv_eq_cstr(name, "local") ||
                            sv_eq_cstr(name, "config")))
        return client_error(err, 403, "the database name %.*s is reserved", (int)name.len,
                            name.ptr);
    if (kind == NAME_COLL && name.len >= 7 && memcmp(name.ptr, "system.", 7) == 0)
        return client_error(err, 403, "collection names starting with 'system.' are reserved");
    memcpy(out, name.ptr, name.len);
    out[name.len] = '\0';
    return true;
}
