/* TEMPORARY stand-in: "true", "path-prefix('/x')" only. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "acl_predicate.h"
struct acl_pred { char prefix[256]; bool any; };
struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct acl_pred *p = calloc(1, sizeof *p);
    if (len == 4 && memcmp(text, "true", 4) == 0) { p->any = true; return p; }
    if (len > 15 && len < 200 && memcmp(text, "path-prefix('", 13) == 0) { memcpy(p->prefix, text + 13, len - 15); return p; }
    snprintf(err, errlen, "at offset 0: unsupported");
    free(p);
    return NULL;
}
void acl_pred_free(struct acl_pred *p) { free(p); }
bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars)
{
    (void)vars;
    if (p->any) return true;
    char path[1024] = ""; size_t n = 0;
    for (size_t i = 0; i < r->nsegments && n < 900; i++) { path[n++] = '/'; memcpy(path + n, r->segments[i].ptr, r->segments[i].len < 100 ? r->segments[i].len : 100); n += r->segments[i].len < 100 ? r->segments[i].len : 100; }
    path[n] = 0;
    size_t pl = strlen(p->prefix);
    return strncmp(path, p->prefix, pl) == 0 && (path[pl] == 0 || path[pl] == '/');
}
