/* Unit tests of fcgi_app/ejson.c: every document gives exactly the bytes
 * of libbson's bson_as_relaxed_extended_json (or fails where it fails),
 * for each BSON type, escapes, invalid UTF-8, deep nesting, doubles and
 * dates at their edges, random documents and corrupted ones. */
#include "../../../fcgi_app/ejson.c"

#include <float.h>

#include "check.h"

static int mismatches;

/* ejson_append against libbson, after some text already in the buffer. */
static bool same_as_libbson(const bson_t *doc)
{
    size_t len = 0;
    char *want = bson_as_relaxed_extended_json(doc, &len);
    struct buf b = {0};
    buf_append(&b, "[x,", 3);
    bool ok = ejson_append(&b, doc);
    bool same = want ? ok && b.len == 3 + len && memcmp(b.ptr + 3, want, len) == 0
                     : !ok && b.len == 3; /* a failure leaves the buffer as it was */
    if (!same && mismatches++ < 5)
        fprintf(stderr, "libbson: %s\nejson:   %.*s (%s)\n", want ? want : "(NULL)",
                (int)(b.len - 3), b.ptr + 3, ok ? "ok" : "failed");
    bson_free(want);
    buf_free(&b);
    return same;
}

/* The JSON ejson writes (for checks of exact text). */
static char *ejson_text(const bson_t *doc)
{
    struct buf b = {0};
    if (!ejson_append(&b, doc)) {
        buf_free(&b);
        return NULL;
    }
    buf_append(&b, "", 1);
    return b.ptr;
}

TEST_CASE(every_type)
{
    bson_t b = BSON_INITIALIZER, c;
    bson_oid_t oid;
    bson_decimal128_t dec;
    bson_oid_init_from_string(&oid, "5f0c1a2b3c4d5e6f70819203");
    BSON_APPEND_DOUBLE(&b, "double", 2.5);
    BSON_APPEND_UTF8(&b, "utf8", "text");
    BSON_APPEND_DOCUMENT_BEGIN(&b, "doc", &c);
    BSON_APPEND_INT32(&c, "x", 1);
    bson_append_document_end(&b, &c);
    BSON_APPEND_ARRAY_BEGIN(&b, "array", &c);
    BSON_APPEND_INT32(&c, "0", 1);
    BSON_APPEND_UTF8(&c, "1", "two");
    bson_append_array_end(&b, &c);
    BSON_APPEND_BINARY(&b, "binary", BSON_SUBTYPE_UUID, (const uint8_t *)"0123456789abcdef", 16);
    BSON_APPEND_BINARY(&b, "old_binary", BSON_SUBTYPE_BINARY_DEPRECATED, (const uint8_t *)"ab", 2);
    BSON_APPEND_BINARY(&b, "user_binary", BSON_SUBTYPE_USER, (const uint8_t *)"a", 1);
    BSON_APPEND_BINARY(&b, "empty_binary", BSON_SUBTYPE_BINARY, (const uint8_t *)"", 0);
    BSON_APPEND_UNDEFINED(&b, "undefined");
    BSON_APPEND_OID(&b, "oid", &oid);
    BSON_APPEND_BOOL(&b, "true", true);
    BSON_APPEND_BOOL(&b, "false", false);
    BSON_APPEND_DATE_TIME(&b, "date", 1764547200123LL);
    BSON_APPEND_NULL(&b, "null");
    BSON_APPEND_REGEX(&b, "regex", "^a/b\"c", "xsmliuq");
    BSON_APPEND_DBPOINTER(&b, "dbpointer", "db.coll", &oid);
    BSON_APPEND_CODE(&b, "code", "function() { return \"x\"; }");
    BSON_APPEND_SYMBOL(&b, "symbol", "sym\tbol");
    bson_t scope = BSON_INITIALIZER;
    BSON_APPEND_INT32(&scope, "x", 1);
    BSON_APPEND_CODE_WITH_SCOPE(&b, "code_w_scope", "x", &scope);
    BSON_APPEND_INT32(&b, "int32", -2147483647 - 1);
    BSON_APPEND_TIMESTAMP(&b, "timestamp", 4294967295u, 7);
    BSON_APPEND_INT64(&b, "int64", INT64_MIN);
    BSON_APPEND_INT64(&b, "int64max", INT64_MAX);
    BSON_APPEND_MAXKEY(&b, "maxkey");
    BSON_APPEND_MINKEY(&b, "minkey");
    bson_decimal128_from_string("-1.50E+12", &dec);
    BSON_APPEND_DECIMAL128(&b, "decimal", &dec);
    bson_decimal128_from_string("NaN", &dec);
    BSON_APPEND_DECIMAL128(&b, "decimal_nan", &dec);
    CHECK(same_as_libbson(&b));
    bson_destroy(&scope);
    bson_destroy(&b);

    /* The same without DBPointer and code with scope, which send the whole
     * document to libbson: every other type is ejson's own. */
    bson_init(&b);
    BSON_APPEND_BINARY(&b, "binary", BSON_SUBTYPE_UUID, (const uint8_t *)"0123456789abcdef", 16);
    BSON_APPEND_UNDEFINED(&b, "undefined");
    BSON_APPEND_OID(&b, "oid", &oid);
    BSON_APPEND_REGEX(&b, "regex", "^a/b\"c", "xsmliuq");
    BSON_APPEND_CODE(&b, "code", "function() { return \"x\"; }");
    BSON_APPEND_SYMBOL(&b, "symbol", "sym\tbol");
    BSON_APPEND_TIMESTAMP(&b, "timestamp", 4294967295u, 7);
    BSON_APPEND_MAXKEY(&b, "maxkey");
    BSON_APPEND_MINKEY(&b, "minkey");
    BSON_APPEND_DECIMAL128(&b, "decimal", &dec);
    char *s = ejson_text(&b);
    CHECK_STR(s, "{ \"binary\" : { \"$binary\" : { \"base64\" : \"MDEyMzQ1Njc4OWFiY2RlZg==\", "
                 "\"subType\" : \"04\" } }, \"undefined\" : { \"$undefined\" : true }, "
                 "\"oid\" : { \"$oid\" : \"5f0c1a2b3c4d5e6f70819203\" }, "
                 "\"regex\" : { \"$regularExpression\" : { \"pattern\" : \"^a/b\\\"c\", "
                 "\"options\" : \"ilmsux\" } }, "
                 "\"code\" : { \"$code\" : \"function() { return \\\"x\\\"; }\" }, "
                 "\"symbol\" : { \"$symbol\" : \"sym\\tbol\" }, "
                 "\"timestamp\" : { \"$timestamp\" : { \"t\" : 4294967295, \"i\" : 7 } }, "
                 "\"maxkey\" : { \"$maxKey\" : 1 }, \"minkey\" : { \"$minKey\" : 1 }, "
                 "\"decimal\" : { \"$numberDecimal\" : \"NaN\" } }");
    bson_free(s);
    CHECK(same_as_libbson(&b));
    bson_destroy(&b);

    /* One document per type too: each on its own, past the first element. */
    bson_t one = BSON_INITIALIZER;
    BSON_APPEND_REGEX(&one, "r", "", "");
    CHECK(same_as_libbson(&one));
    bson_destroy(&one);
}

TEST_CASE(exact_text)
{
    bson_t b = BSON_INITIALIZER, c;
    char *s = ejson_text(&b);
    CHECK_STR(s, "{ }");
    bson_free(s);
    BSON_APPEND_DOCUMENT_BEGIN(&b, "e", &c);
    bson_append_document_end(&b, &c);
    BSON_APPEND_ARRAY_BEGIN(&b, "a", &c);
    bson_append_array_end(&b, &c);
    BSON_APPEND_DOUBLE(&b, "d", 1.0);
    BSON_APPEND_DATE_TIME(&b, "t", 0);
    s = ejson_text(&b);
    CHECK_STR(s, "{ \"e\" : {  }, \"a\" : [  ], \"d\" : 1.0, \"t\" : { \"$date\" : \"1970-01-01T00:00:00Z\" } }");
    bson_free(s);
    CHECK(same_as_libbson(&b));
    bson_destroy(&b);
}

/* Every byte 1..127 in a value and in a key. */
TEST_CASE(escapes_every_ascii_byte)
{
    for (int c = 1; c < 128; c++) {
        char text[4] = {'a', (char)c, 'z', 0};
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&b, "k", text);
        BSON_APPEND_UTF8(&b, text, "v");
        bson_append_utf8(&b, "only", -1, text + 1, 1);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
    bson_t b = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&b, "s", "\x01\x1f\"\\/\b\f\n\r\t\x7f");
    char *s = ejson_text(&b);
    CHECK_STR(s, "{ \"s\" : \"\\u0001\\u001f\\\"\\\\/\\b\\f\\n\\r\\t\x7f\" }");
    bson_free(s);
    bson_destroy(&b);
}

TEST_CASE(utf8_valid_and_invalid)
{
    static const char *const texts[] = {
        "caf\xc3\xa9",                 /* é */
        "\xe2\x82\xac \xf0\x9f\x98\x80", /* € and an emoji */
        "\xe2\x80\xa8\xef\xbf\xbf",     /* U+2028, U+FFFF */
        "\xf4\x8f\xbf\xbf",             /* U+10FFFF */
        "\x80",                         /* a lone continuation byte */
        "a\xc3",                        /* cut short */
        "\xc3(",                        /* a bad continuation */
        "\xc0\x80",                     /* the two-byte NUL */
        "\xc1\xbf",                     /* overlong */
        "\xe0\x80\xaf",                 /* overlong / */
        "\xed\xa0\x80",                 /* a surrogate */
        "\xf4\x90\x80\x80",             /* past U+10FFFF */
        "\xf8\x88\x80\x80\x80",         /* five bytes */
        "\xff",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        bson_t b = BSON_INITIALIZER;
        bson_append_utf8(&b, "s", 1, texts[i], -1);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
        bson_init(&b);
        bson_append_int32(&b, texts[i], -1, 1);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
        bson_init(&b);
        BSON_APPEND_REGEX(&b, "r", texts[i], "i");
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
    /* A NUL inside a string (its length says so). */
    bson_t b = BSON_INITIALIZER;
    bson_append_utf8(&b, "s", 1, "a\0b", 3);
    CHECK(same_as_libbson(&b));
    bson_destroy(&b);
    /* An array whose key is not UTF-8: libbson refuses the document. */
    bson_t arr = BSON_INITIALIZER, c;
    BSON_APPEND_ARRAY_BEGIN(&arr, "a", &c);
    bson_append_int32(&c, "\xff", -1, 1);
    bson_append_array_end(&arr, &c);
    CHECK(same_as_libbson(&arr));
    bson_destroy(&arr);
}

/* Nested documents and arrays on both sides of EJSON_MAX_DEPTH and of
 * libbson's own limit. */
TEST_CASE(deep_nesting)
{
    static const int depths[] = {1, 2, 99, 100, 101, 150, 199, 200, 201, 250};
    for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
        for (int array = 0; array < 2; array++) {
            bson_t cur = BSON_INITIALIZER;
            BSON_APPEND_UTF8(&cur, array ? "0" : "leaf", "x");
            for (int i = 0; i < depths[d]; i++) {
                bson_t next = BSON_INITIALIZER;
                if (array)
                    BSON_APPEND_ARRAY(&next, "0", &cur);
                else
                    BSON_APPEND_DOCUMENT(&next, "d", &cur);
                bson_destroy(&cur);
                bson_steal(&cur, &next);
            }
            CHECK(same_as_libbson(&cur));
            bson_destroy(&cur);
        }
    }
}

TEST_CASE(doubles)
{
    static const double values[] = {
        0.0, -0.0, 1.0, -1.0, 1.25, -3.5, 0.1, 1.0 / 3, 2.0 / 3, 1e-5, 1e-4, 123.456,
        999999999999999.0, -999999999999999.0, 1e15, -1e15, 1e16, 9007199254740992.0,
        9007199254740993.0, 1e19, 1e20, 1e21, 1e22, 1e300, -1e300, 5e-324, DBL_MIN, DBL_MAX,
        -DBL_MAX, 4503599627370495.5, 0.5, 1e-300, NAN, -NAN, INFINITY, -INFINITY,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_DOUBLE(&b, "d", values[i]);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
    /* Binary fractions, printed without printf up to 2^-10. */
    for (int i = -100000; i <= 100000; i += 7) {
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_DOUBLE(&b, "price", i * 1.25);
        BSON_APPEND_DOUBLE(&b, "k", (double)i / (1 << (i & 15)));
        BSON_APPEND_DOUBLE(&b, "big", (double)i * 1e10 + 0.5);
        BSON_APPEND_DOUBLE(&b, "bigger", (double)i * 1e13 + 0.0625);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
    /* Random bit patterns, integers and quarters. */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = (uint64_t)rand() << 62 ^ (uint64_t)rand() << 31 ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_DOUBLE(&b, "bits", v);
        BSON_APPEND_DOUBLE(&b, "int", (double)(rand() - RAND_MAX / 2) * (i % 7 ? 1 : 1e6));
        BSON_APPEND_DOUBLE(&b, "quarter", (rand() % 100000) * 0.25 - 1000);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
}

TEST_CASE(dates)
{
    static const int64_t values[] = {
        0, 1, 999, 1000, 1001, -1, -1000, INT64_MIN, INT64_MAX,
        951782400000LL,           /* 2000-02-29 */
        94694399999LL,            /* 1972-12-31T23:59:59.999 */
        4107542400000LL,          /* 2100-03-01 */
        253402300799999LL,        /* the last millisecond of 9999 */
        253402300800000LL,        /* year 10000 */
        1764547200000LL,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_DATE_TIME(&b, "t", values[i]);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
    srand(11);
    for (int i = 0; i < 20000; i++) {
        int64_t ms = ((int64_t)rand() << 20 ^ rand()) % 253402300800000LL;
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_DATE_TIME(&b, "t", ms);
        BSON_APPEND_DATE_TIME(&b, "day", ms / 86400000 * 86400000);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
}

TEST_CASE(binary_lengths)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof data; n++) {
        bson_t b = BSON_INITIALIZER;
        BSON_APPEND_BINARY(&b, "b", BSON_SUBTYPE_BINARY, data, (uint32_t)n);
        BSON_APPEND_BINARY(&b, "old", BSON_SUBTYPE_BINARY_DEPRECATED, data, (uint32_t)n);
        BSON_APPEND_BINARY(&b, "user", (bson_subtype_t)0xfe, data, (uint32_t)n);
        CHECK(same_as_libbson(&b));
        bson_destroy(&b);
    }
}

/* ---- random documents ---- */

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Mostly valid UTF-8 (ASCII, accents, emoji), sometimes any bytes. */
static size_t random_text(char *out, size_t max)
{
    size_t n = next_rand() % max, i = 0;
    bool any = next_rand() % 8 == 0;
    while (i < n) {
        uint32_t r = next_rand() % 10;
        if (any) {
            out[i++] = (char)(1 + next_rand() % 255);
        } else if (r < 6 || i + 4 > n) {
            out[i++] = (char)(1 + next_rand() % 127);
        } else if (r < 8) {
            memcpy(out + i, "\xc3\xa9", 2);
            i += 2;
        } else {
            memcpy(out + i, "\xf0\x9f\x98\x80", 4);
            i += 4;
        }
    }
    out[i] = '\0';
    return i;
}

static void random_doc(bson_t *b, int depth, bool array)
{
    int n = (int)(next_rand() % 6);
    for (int i = 0; i < n; i++) {
        char key[32], text[48];
        if (array)
            snprintf(key, sizeof key, "%d", i);
        else
            random_text(key, 16);
        size_t len = random_text(text, sizeof text);
        bson_t child;
        switch (next_rand() % 14) {
        case 0:
            BSON_APPEND_UTF8(b, key, text);
            break;
        case 1:
            bson_append_utf8(b, key, -1, text, (int)len);
            break;
        case 2:
            BSON_APPEND_INT32(b, key, (int32_t)next_rand());
            break;
        case 3:
            BSON_APPEND_INT64(b, key, (int64_t)((uint64_t)next_rand() << 32 | next_rand()));
            break;
        case 4:
            BSON_APPEND_DOUBLE(b, key, (double)(int32_t)next_rand() / (1 << (next_rand() % 12)));
            break;
        case 5:
            BSON_APPEND_BOOL(b, key, next_rand() & 1);
            break;
        case 6:
            BSON_APPEND_NULL(b, key);
            break;
        case 7:
            BSON_APPEND_DATE_TIME(b, key, (int64_t)next_rand() * 1000 - 1000000);
            break;
        case 8: {
            bson_oid_t oid;
            bson_oid_init(&oid, NULL);
            BSON_APPEND_OID(b, key, &oid);
            break;
        }
        case 9:
        case 10:
            if (depth < 6) {
                BSON_APPEND_DOCUMENT_BEGIN(b, key, &child);
                random_doc(&child, depth + 1, false);
                bson_append_document_end(b, &child);
            }
            break;
        case 11:
            if (depth < 6) {
                BSON_APPEND_ARRAY_BEGIN(b, key, &child);
                random_doc(&child, depth + 1, true);
                bson_append_array_end(b, &child);
            }
            break;
        case 12:
            BSON_APPEND_BINARY(b, key, BSON_SUBTYPE_BINARY, (const uint8_t *)text, (uint32_t)len);
            break;
        default:
            BSON_APPEND_REGEX(b, key, text, "ism");
            break;
        }
    }
}

TEST_CASE(random_documents)
{
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        bson_t b = BSON_INITIALIZER;
        random_doc(&b, 0, false);
        bad += !same_as_libbson(&b);
        bson_destroy(&b);
    }
    CHECK_INT(bad, 0);
}

/* Bytes of valid documents changed at random: both fail, or agree. */
TEST_CASE(corrupt_documents)
{
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        bson_t b = BSON_INITIALIZER;
        random_doc(&b, 0, false);
        if (b.len <= 5) {
            bson_destroy(&b);
            continue;
        }
        uint8_t *copy = bson_malloc(b.len);
        memcpy(copy, bson_get_data(&b), b.len);
        for (int k = 0; k < 1 + (int)(next_rand() % 3); k++)
            copy[4 + next_rand() % (b.len - 5)] = (uint8_t)next_rand();
        bson_t view;
        if (bson_init_static(&view, copy, b.len))
            bad += !same_as_libbson(&view);
        bson_free(copy);
        bson_destroy(&b);
    }
    CHECK_INT(bad, 0);
}

TEST_CASE(failure_leaves_buffer_unchanged)
{
    bson_t b = BSON_INITIALIZER;
    bson_append_utf8(&b, "s", 1, "\xff", 1);
    struct buf out = {0};
    buf_append(&out, "abc", 3);
    CHECK(!ejson_append(&out, &b));
    CHECK_INT(out.len, 3);
    CHECK(!out.failed);
    buf_free(&out);
    bson_destroy(&b);
}
