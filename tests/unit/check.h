/* check.h: a minimal test runner for unit tests. Each TEST_CASE registers
 * itself; the binary runs the case named on the command line (one ctest per
 * case, registered by tests/CMakeLists.txt from the TEST_CASE lines) or all
 * cases when none is named. */
#ifndef RESTFCGI_CHECK_H
#define RESTFCGI_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_case {
    const char *name;
    void (*fn)(void);
};

static struct check_case check_cases[256];
static int check_ncases;
static int check_failures;

#define TEST_CASE(name)                                                        \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        if (check_ncases < 256)                                                \
            check_cases[check_ncases++] = (struct check_case){#name, test_##name}; \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, b)                                                                   \
    do {                                                                                  \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                  \
        if (check_a_ != check_b_) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,  \
                    __LINE__, #a, #b, check_a_, check_b_);                                \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *check_a_ = (a), *check_b_ = (b);                                      \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n",         \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",           \
                    check_b_ ? check_b_ : "(null)");                                      \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

/* A length-delimited view against a C string. */
#define CHECK_SV(view, cstr)                                                              \
    do {                                                                                  \
        struct sv check_v_ = (view);                                                      \
        const char *check_c_ = (cstr);                                                    \
        if (check_v_.len != strlen(check_c_) ||                                           \
            memcmp(check_v_.ptr, check_c_, check_v_.len) != 0) {                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == \"%s\" (got \"%.*s\")\n",         \
                    __FILE__, __LINE__, #view, check_c_, (int)check_v_.len, check_v_.ptr); \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 0; i < check_ncases; i++) {
        if (argc > 1 && strcmp(argv[1], check_cases[i].name) != 0)
            continue;
        int before = check_failures;
        check_cases[i].fn();
        fprintf(stderr, "%s: %s\n", check_cases[i].name, check_failures > before ? "FAIL" : "ok");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "(any)");
        return 1;
    }
    return check_failures ? 1 : 0;
}

#endif
