/*
 * jwt_base64.c: base64url as JWS writes it (RFC 7515 §2): the url alphabet,
 * no padding. Decoding is strict (no '=', no other characters, unused bits
 * zero), so that one token has one spelling and the cache key is the token.
 * (libjwt encodes the tokens we mint.)
 */
#include <stdint.h>

#include "tm_jwt.h"

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool tmjwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    if (len % 4 == 1) /* 6 bits cannot end a byte */
        return false;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return false;
        acc = (acc << 6 | (uint32_t)v) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* the spare bits of the last character */
        return false;
    *outlen = o;
    return true;
}
