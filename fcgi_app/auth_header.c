#include <stdio.h>
#include <strings.h>

#include "auth_header.h"

static bool refuse(struct restfcgi_error *err, const char *why)
{
    err->domain = RESTFCGI_ERR_AUTH;
    err->code = 401;
    snprintf(err->message, sizeof err->message, "%s", why);
    return false;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 base64 with padding: a length that is a multiple of 4,
 * '=' only at the end, no whitespace, and no stray bits in the last char. */
static bool b64_decode(struct sv in, char *out, size_t *out_len)
{
    if (in.len == 0 || in.len % 4)
        return false;
    size_t pad = 0;
    if (in.ptr[in.len - 1] == '=')
        pad = in.ptr[in.len - 2] == '=' ? 2 : 1;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i += 4) {
        int v[4];
        for (size_t j = 0; j < 4; j++) {
            bool padding = i + j >= in.len - pad;
            v[j] = padding ? 0 : b64_value((unsigned char)in.ptr[i + j]);
            if (padding ? in.ptr[i + j] != '=' : v[j] < 0)
                return false;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        bool last = i + 4 == in.len;
        if (last && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))))
            return false;
        out[n++] = (char)(w >> 16);
        if (!last || pad < 2)
            out[n++] = (char)(w >> 8);
        if (!last || pad < 1)
            out[n++] = (char)w;
    }
    *out_len = n;
    return true;
}

static bool scheme_is(struct sv v, const char *name, size_t *rest)
{
    size_t n = strlen(name);
    if (v.len <= n || strncasecmp(v.ptr, name, n) != 0 || v.ptr[n] != ' ')
        return false;
    size_t i = n;
    while (i < v.len && v.ptr[i] == ' ')
        i++;
    *rest = i;
    return true;
}

static bool secret_ok(struct sv s)
{
    return s.len > 0 && s.len <= RESTFCGI_TOKEN_MAX && !memchr(s.ptr, '\0', s.len);
}

bool auth_header_parse(struct sv value, struct arena *arena, struct auth_header *out,
                       struct restfcgi_error *err)
{
    memset(out, 0, sizeof *out);
    if (value.len > AUTH_HEADER_MAX)
        return refuse(err, "Authorization header too long");
    while (value.len && (value.ptr[value.len - 1] == ' ' || value.ptr[value.len - 1] == '\t'))
        value.len--;
    size_t at;
    if (scheme_is(value, "Bearer", &at)) {
        out->scheme = AUTH_BEARER;
        out->secret = (struct sv){value.ptr + at, value.len - at};
        if (!secret_ok(out->secret) || memchr(out->secret.ptr, ' ', out->secret.len))
            return refuse(err, "malformed Bearer token");
        return true;
    }
    if (!scheme_is(value, "Basic", &at))
        return refuse(err, "unsupported Authorization scheme (Basic or Bearer)");
    struct sv enc = {value.ptr + at, value.len - at};
    char *dec = arena_alloc(arena, enc.len / 4 * 3 + 1);
    size_t n = 0;
    if (!dec || !b64_decode(enc, dec, &n))
        return refuse(err, "malformed Basic credentials (not base64)");
    const char *colon = memchr(dec, ':', n);
    if (!colon)
        return refuse(err, "malformed Basic credentials (no ':')");
    out->scheme = AUTH_BASIC;
    out->userid = (struct sv){dec, (size_t)(colon - dec)};
    out->secret = (struct sv){colon + 1, n - out->userid.len - 1};
    if (out->userid.len == 0 || out->userid.len > RESTFCGI_USERID_MAX)
        return refuse(err, "malformed Basic credentials (userid empty or too long)");
    for (size_t i = 0; i < out->userid.len; i++) {
        if ((unsigned char)out->userid.ptr[i] < 0x20 || out->userid.ptr[i] == 0x7f)
            return refuse(err, "malformed Basic credentials (control character in userid)");
    }
    if (!secret_ok(out->secret))
        return refuse(err, "malformed Basic credentials (password empty, too long or with NUL)");
    return true;
}
