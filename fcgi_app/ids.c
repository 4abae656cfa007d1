#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_error.h"
#include "ids.h"

static bool is_oid(struct sv s)
{
    if (s.len != 24)
        return false;
    for (size_t i = 0; i < 24; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* A NUL-terminated copy, bounded: ids longer than this are refused. */
#define ID_MAX_LEN 1024

bool id_append(bson_t *doc, struct sv seg, struct sv id_type, bool given,
               struct restfcgi_error *err)
{
    if (seg.len > ID_MAX_LEN)
        return client_error(err, 400, "document id longer than %d bytes", ID_MAX_LEN);
    char s[ID_MAX_LEN + 1];
    memcpy(s, seg.ptr, seg.len);
    s[seg.len] = '\0';
    if (!given || sv_eq_cstr(id_type, "STRING_OID")) {
        if (is_oid(seg)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            return BSON_APPEND_OID(doc, "_id", &oid);
        }
        return bson_append_utf8(doc, "_id", 3, seg.ptr, (int)seg.len);
    }
    if (sv_eq_cstr(id_type, "OID")) {
        if (!is_oid(seg))
            return client_error(err, 400, "id %s is not an ObjectId (id_type=OID)", s);
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, s);
        return BSON_APPEND_OID(doc, "_id", &oid);
    }
    if (sv_eq_cstr(id_type, "STRING"))
        return bson_append_utf8(doc, "_id", 3, seg.ptr, (int)seg.len);
    if (sv_eq_cstr(id_type, "NUMBER") || sv_eq_cstr(id_type, "DATE")) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        bool is_int = seg.len && !errno && *end == '\0';
        if (sv_eq_cstr(id_type, "DATE")) {
            if (!is_int)
                return client_error(err, 400, "id %s is not a date in ms since the epoch (id_type=DATE)", s);
            return BSON_APPEND_DATE_TIME(doc, "_id", v);
        }
        if (is_int)
            return v >= INT32_MIN && v <= INT32_MAX ? BSON_APPEND_INT32(doc, "_id", (int32_t)v)
                                                    : BSON_APPEND_INT64(doc, "_id", v);
        errno = 0;
        double d = strtod(s, &end);
        if (!seg.len || errno || *end != '\0' || d != d)
            return client_error(err, 400, "id %s is not a number (id_type=NUMBER)", s);
        return BSON_APPEND_DOUBLE(doc, "_id", d);
    }
    if (sv_eq_cstr(id_type, "BOOLEAN")) {
        if (sv_eq_cstr(seg, "true") || sv_eq_cstr(seg, "false"))
            return BSON_APPEND_BOOL(doc, "_id", seg.ptr[0] == 't');
        return client_error(err, 400, "id %s is not true or false (id_type=BOOLEAN)", s);
    }
    if (sv_eq_cstr(id_type, "NULL"))
        return BSON_APPEND_NULL(doc, "_id");
    if (sv_eq_cstr(id_type, "MINKEY"))
        return BSON_APPEND_MINKEY(doc, "_id");
    if (sv_eq_cstr(id_type, "MAXKEY"))
        return BSON_APPEND_MAXKEY(doc, "_id");
    return client_error(err, 400, "unknown id_type (OID, STRING_OID, STRING, NUMBER, DATE, BOOLEAN, NULL, "
                       "MINKEY, MAXKEY)");
}

bool id_to_segment(const bson_value_t *id, char *out, size_t outlen, const char **id_type)
{
    *id_type = NULL;
    int n = -1;
    switch (id->value_type) {
    case BSON_TYPE_OID:
        if (outlen < 25)
            return false;
        bson_oid_to_string(&id->value.v_oid, out);
        return true;
    case BSON_TYPE_UTF8: {
        /* Percent-encode all but unreserved characters; a 24-hex string
         * would read back as an ObjectId, so it says id_type=STRING. */
        struct sv s = {id->value.v_utf8.str, id->value.v_utf8.len};
        size_t o = 0;
        for (size_t i = 0; i < s.len; i++) {
            unsigned char c = (unsigned char)s.ptr[i];
            bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
            if (o + 4 > outlen)
                return false;
            if (plain)
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
        }
        if (o >= outlen)
            return false;
        out[o] = '\0';
        if (is_oid(s) || s.len == 0)
            *id_type = "STRING";
        return s.len > 0;
    }
    case BSON_TYPE_INT32:
        n = snprintf(out, outlen, "%" PRId32, id->value.v_int32);
        *id_type = "NUMBER";
        break;
    case BSON_TYPE_INT64:
        n = snprintf(out, outlen, "%" PRId64, id->value.v_int64);
        *id_type = "NUMBER";
        break;
    case BSON_TYPE_DOUBLE:
        n = snprintf(out, outlen, "%.17g", id->value.v_double);
        *id_type = "NUMBER";
        break;
    case BSON_TYPE_DATE_TIME:
        n = snprintf(out, outlen, "%" PRId64, id->value.v_datetime);
        *id_type = "DATE";
        break;
    case BSON_TYPE_BOOL:
        n = snprintf(out, outlen, "%s", id->value.v_bool ? "true" : "false");
        *id_type = "BOOLEAN";
        break;
    default:
        return false;
    }
    return n > 0 && (size_t)n < outlen;
}
