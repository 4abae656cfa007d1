/*
 * tm_tool: a token manager plugin from the command line, loaded the way the
 * server loads it (config file, plugin_load, the host's instance, then
 * worker_init), for script tests and measurements:
 *
 *   tm_tool -c FILE [-p PLUGIN_DIR] issue USERID [ROLE...]   token on stdout
 *   tm_tool -c FILE [-p PLUGIN_DIR] verify TOKEN [USERID]     "USERID role1,role2"
 *   tm_tool -c FILE [-p PLUGIN_DIR] bench SECONDS [TOKENS]    issue/s and verify/s
 *
 * Exit codes: 0 ok, 1 the operation failed (a token that does not verify),
 * 2 usage, 3 configuration or plugin refused.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "plugin_loader.h"

#define BENCH_TOKENS_DEFAULT 10000 /* the memory manager's default capacity */

static int usage(void)
{
    fprintf(stderr, "usage: tm_tool -c FILE [-p PLUGIN_DIR] issue USERID [ROLE...]\n"
                    "       tm_tool -c FILE [-p PLUGIN_DIR] verify TOKEN [USERID]\n"
                    "       tm_tool -c FILE [-p PLUGIN_DIR] bench SECONDS [TOKENS]\n");
    return 2;
}

static bool make_account(const char *userid, char **roles, int nroles,
                         struct restfcgi_account *acct)
{
    memset(acct, 0, sizeof *acct);
    if (!*userid || strlen(userid) > RESTFCGI_USERID_MAX || nroles > RESTFCGI_ROLES_MAX)
        return false;
    strcpy(acct->userid, userid);
    for (int i = 0; i < nroles; i++) {
        if (strlen(roles[i]) > RESTFCGI_ROLE_MAX)
            return false;
        strcpy(acct->roles[acct->nroles++], roles[i]);
    }
    return true;
}

static int cmd_issue(const struct restfcgi_token_manager_ops *ops, void *state, int argc,
                     char **argv)
{
    struct restfcgi_account acct;
    struct restfcgi_token token;
    struct restfcgi_error err = {0};
    if (argc < 1 || !make_account(argv[0], argv + 1, argc - 1, &acct))
        return usage();
    if (!ops->issue(state, &acct, &token, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s\n", token.value);
    return 0;
}

static int cmd_verify(const struct restfcgi_token_manager_ops *ops, void *state, int argc,
                      char **argv)
{
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    if (argc < 1 || argc > 2)
        return usage();
    if (!ops->verify(state, argc > 1 ? argv[1] : NULL, argv[0], strlen(argv[0]), &acct, &until,
                     &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s", acct.userid);
    for (uint32_t i = 0; i < acct.nroles; i++)
        printf("%c%s", i ? ',' : ' ', acct.roles[i]);
    printf("\n");
    return 0;
}

/* Calls op() as often as it can for ms milliseconds; the count, or -1 when
 * an operation failed. */
static long long for_ms(int64_t ms, bool (*op)(void *ctx, long long i), void *ctx)
{
    int64_t end = host_monotonic_ms() + ms;
    long long n = 0;
    do {
        for (int k = 0; k < 64; k++, n++)
            if (!op(ctx, n))
                return -1;
    } while (host_monotonic_ms() < end);
    return n;
}

struct bench {
    const struct restfcgi_token_manager_ops *ops;
    void *state;
    struct restfcgi_account acct;
    char **tokens; /* a ring of the last ntokens issued */
    long long ntokens, issued;
    struct restfcgi_error err;
};

static bool bench_issue(void *ctx, long long i)
{
    struct bench *b = ctx;
    struct restfcgi_token t;
    if (!b->ops->issue(b->state, &b->acct, &t, &b->err))
        return false;
    char **slot = &b->tokens[i % b->ntokens];
    free(*slot);
    *slot = strdup(t.value);
    b->issued = i + 1;
    return *slot != NULL;
}

static bool bench_verify(void *ctx, long long i)
{
    struct bench *b = ctx;
    struct restfcgi_account acct;
    int64_t until = 0;
    long long have = b->issued < b->ntokens ? b->issued : b->ntokens;
    const char *t = b->tokens[i % have];
    return b->ops->verify(b->state, NULL, t, strlen(t), &acct, &until, &b->err);
}

/* Single thread: issue for SECONDS, then verify the last TOKENS issued, in
 * turn, for SECONDS. */
static int cmd_bench(const struct restfcgi_token_manager_ops *ops, void *state, int argc,
                     char **argv)
{
    char *end;
    long seconds = argc >= 1 ? strtol(argv[0], &end, 10) : 0;
    if (argc < 1 || argc > 2 || *end || seconds < 1 || seconds > 3600)
        return usage();
    long long ntokens = argc > 1 ? strtoll(argv[1], &end, 10) : BENCH_TOKENS_DEFAULT;
    if (argc > 1 && (*end || ntokens < 1 || ntokens > 10000000))
        return usage();
    char *roles[] = {"user", "bench"};
    struct bench b = {.ops = ops, .state = state, .ntokens = ntokens};
    b.tokens = calloc((size_t)ntokens, sizeof *b.tokens);
    if (!b.tokens || !make_account("bench-user", roles, 2, &b.acct))
        return 1;
    long long issued = for_ms(seconds * 1000, bench_issue, &b);
    long long verified = issued < 0 ? -1 : for_ms(seconds * 1000, bench_verify, &b);
    for (long long i = 0; i < ntokens; i++)
        free(b.tokens[i]);
    free(b.tokens);
    if (verified < 0) {
        fprintf(stderr, "bench: %s\n", b.err.message);
        return 1;
    }
    printf("issue/s %lld\nverify/s %lld\n", issued / seconds, verified / seconds);
    return 0;
}

static int run(const struct restfcgi_token_manager_ops *ops, void *state, int argc, char **argv)
{
    if (strcmp(argv[0], "issue") == 0)
        return cmd_issue(ops, state, argc - 1, argv + 1);
    if (strcmp(argv[0], "verify") == 0)
        return cmd_verify(ops, state, argc - 1, argv + 1);
    if (strcmp(argv[0], "bench") == 0)
        return cmd_bench(ops, state, argc - 1, argv + 1);
    return usage();
}

int main(int argc, char **argv)
{
    const char *config = NULL, *plugin_dir = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+c:p:")) != -1) {
        if (opt == 'c')
            config = optarg;
        else if (opt == 'p')
            plugin_dir = optarg;
        else
            return usage();
    }
    if (!config || optind >= argc)
        return usage();
    struct cfg cfg;
    char msg[512];
    if (!cfg_load(&cfg, config, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        return 3;
    }
    log_set_level(cfg.log_level);
    /* The memory manager names its shared table after the listening socket;
     * a socket of our own gives this process a table of its own. */
    int sock[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) != 0) {
        perror("socketpair");
        cfg_free(&cfg);
        return 3;
    }
    host_set_instance(NULL, sock[0]);
    struct plugin p = {0};
    struct restfcgi_error err = {0};
    int rc = 3;
    if (!plugin_load(&p, RESTFCGI_PLUGIN_TOKEN_MANAGER, cfg.tm_plugin,
                     plugin_dir ? plugin_dir : cfg.plugin_dir,
                     (const restfcgi_conf *)cfg.token_manager, &err) ||
        !plugin_worker_init(&p, &err))
        fprintf(stderr, "%s\n", err.message);
    else
        rc = run(plugin_ops(&p), p.state, argc - optind, argv + optind);
    plugin_unload(&p);
    cfg_free(&cfg);
    close(sock[0]);
    close(sock[1]);
    return rc;
}
