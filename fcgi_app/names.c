#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

static bool refuse(struct restfcgi_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(struct restfcgi_error *err, int code, const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

bool name_check(enum name_kind kind, struct sv name, char *out, size_t outlen,
                struct restfcgi_error *err)
{
    static const char *const what[] = {"database", "collection", "index"};
    const char *w = what[kind];
    if (name.len == 0)
        return refuse(err, 400, "empty %s name", w);
    if (name.len > NAME_MAX_LEN || name.len >= outlen)
        return refuse(err, 400, "%s name longer than %d bytes", w, NAME_MAX_LEN);
    /* MongoDB forbids these in database names; '$' also in collections. */
    const char *bad = kind == NAME_DB ? "/\\. \"$*<>:|?" : kind == NAME_COLL ? "$" : "";
    for (size_t i = 0; i < name.len; i++) {
        if (strchr(bad, name.ptr[i]) && name.ptr[i] != '\0')
            return refuse(err, 400, "'%c' is not allowed in a %s name", name.ptr[i], w);
    }
    if (kind != NAME_INDEX && name.ptr[0] == '_')
        return refuse(err, 403, "%s names starting with '_' are reserved", w);
    if (kind == NAME_COLL && name.len >= 7 && memcmp(name.ptr, "system.", 7) == 0)
        return refuse(err, 403, "collection names starting with 'system.' are reserved");
    memcpy(out, name.ptr, name.len);
    out[name.len] = '\0';
    return true;
}
