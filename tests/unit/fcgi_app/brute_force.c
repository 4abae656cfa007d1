/* Unit tests of fcgi_app/brute_force.c: failed logins per client address. */
#include "../../../fcgi_app/brute_force.c"

#include "check.h"

TEST_CASE(locks_after_max_failures_until_the_window_ends)
{
    struct brute_force *bf = brute_force_new(3, 10);
    struct sv a = SV_LIT("10.0.0.1"), b = SV_LIT("10.0.0.2");
    int64_t retry;
    for (int i = 0; i < 3; i++) {
        CHECK(!brute_force_blocked(bf, a, 1000 + i, &retry));
        brute_force_failed(bf, a, 1000 + i);
    }
    CHECK(brute_force_blocked(bf, a, 2000, &retry));
    CHECK_INT(retry, 9);
    CHECK(!brute_force_blocked(bf, b, 2000, &retry));
    CHECK(!brute_force_blocked(bf, a, 11000, &retry)); /* the window has passed */
    brute_force_free(bf);
}

TEST_CASE(success_clears_the_count)
{
    struct brute_force *bf = brute_force_new(2, 10);
    struct sv a = SV_LIT("::1");
    int64_t retry;
    brute_force_failed(bf, a, 0);
    brute_force_succeeded(bf, a);
    brute_force_failed(bf, a, 1);
    CHECK(!brute_force_blocked(bf, a, 2, &retry));
    brute_force_failed(bf, a, 3);
    CHECK(brute_force_blocked(bf, a, 4, &retry));
    brute_force_free(bf);
}

TEST_CASE(a_flood_of_addresses_stays_bounded)
{
    struct brute_force *bf = brute_force_new(1, 10);
    char addr[32];
    int64_t retry;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        brute_force_failed(bf, (struct sv){addr, (size_t)n}, 5);
    }
    /* The newest addresses are still tracked; the table did not grow. */
    CHECK(brute_force_blocked(bf, (struct sv){addr, strlen(addr)}, 6, &retry));
    CHECK(sizeof *bf < 200 * 1024);
    brute_force_free(bf);
}
