#include "../../../../plugins/tm_memory/token_table.c"
#include "../../../../plugins/tm_memory/tm_memory.c"

#include <libconfig.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "check.h"
#include "host.h"

/* The memory token manager through its plugin ops, with the real host
 * services, and its shared table across processes. Each case names its
 * table after a socket of its own, so parallel cases never share one. */

static config_t conf;
static int sock[2] = {-1, -1};

static void *start(const char *config_text, struct restfcgi_error *err)
{
    config_init(&conf);
    if (config_read_string(&conf, config_text) != CONFIG_TRUE) {
        fprintf(stderr, "bad test config: %s\n", config_error_text(&conf));
        abort();
    }
    if (sock[0] < 0) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sock);
        host_set_instance(NULL, sock[0]);
    }
    void *state = NULL;
    if (!ops.life.init(host_services(), (const restfcgi_conf *)config_root_setting(&conf), &state, err))
        return NULL;
    return state;
}

static void *started(void)
{
    struct restfcgi_error err = {0};
    void *s = start("plugin = \"memory\"; ttl = 1; capacity = 16;", &err);
    CHECK(s != NULL);
    CHECK(ops.life.worker_init(s, &err));
    return s;
}

static void stop(void *s)
{
    ops.life.cleanup(s);
    config_destroy(&conf);
}

static struct restfcgi_account account(const char *userid)
{
    struct restfcgi_account a = {0};
    snprintf(a.userid, sizeof a.userid, "%s", userid);
    a.nroles = 1;
    snprintf(a.roles[0], sizeof a.roles[0], "user");
    return a;
}

TEST_CASE(issue_then_verify)
{
    void *s = started();
    struct restfcgi_account a = account("alice"), got;
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK_INT(strlen(t.value), TOKEN_CHARS);
    CHECK(t.valid_until_ms > host_now_ms() + 59000);
    CHECK(ops.verify(s, "alice", t.value, strlen(t.value), &got, &until, &err));
    CHECK_STR(got.userid, "alice");
    CHECK_STR(got.roles[0], "user");
    CHECK(ops.verify(s, NULL, t.value, strlen(t.value), &got, &until, &err));
    struct restfcgi_token t2;
    CHECK(ops.issue(s, &a, &t2, &err));
    CHECK(strcmp(t.value, t2.value) != 0);
    stop(s);
}

TEST_CASE(wrong_tokens_are_401)
{
    void *s = started();
    struct restfcgi_account a = account("alice"), got;
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK(!ops.verify(s, "bob", t.value, strlen(t.value), &got, &until, &err));
    CHECK_INT(err.code, 401);
    CHECK_INT(err.domain, RESTFCGI_ERR_AUTH);
    CHECK(strstr(err.message, t.value) == NULL);
    char tampered[sizeof t.value];
    memcpy(tampered, t.value, sizeof tampered);
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    CHECK(!ops.verify(s, "alice", tampered, strlen(tampered), &got, &until, &err));
    CHECK_INT(err.code, 401);
    CHECK(!ops.verify(s, "alice", t.value, strlen(t.value) - 1, &got, &until, &err));
    CHECK(!ops.verify(s, "alice", "", 0, &got, &until, &err));
    stop(s);
}

TEST_CASE(revoke_forgets_every_token_of_the_user)
{
    void *s = started();
    struct restfcgi_account a = account("alice"), b = account("bob"), got;
    struct restfcgi_token t1, t2, t3;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t1, &err) && ops.issue(s, &a, &t2, &err) && ops.issue(s, &b, &t3, &err));
    CHECK(ops.revoke(s, "alice", &err));
    CHECK(!ops.verify(s, "alice", t1.value, strlen(t1.value), &got, &until, &err));
    CHECK(!ops.verify(s, "alice", t2.value, strlen(t2.value), &got, &until, &err));
    CHECK(ops.verify(s, "bob", t3.value, strlen(t3.value), &got, &until, &err));
    stop(s);
}

TEST_CASE(touch_slides_the_expiry)
{
    void *s = started();
    struct restfcgi_account a = account("alice");
    struct restfcgi_token t, back;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(s, &a, &t, &err));
    struct memory_tm *tm = s;
    tm->ttl_ms = 3600000; /* as if the ttl were an hour now */
    CHECK(ops.touch(s, &a, t.value, strlen(t.value), &back, &err));
    CHECK_STR(back.value, t.value);
    CHECK(back.valid_until_ms > t.valid_until_ms + 3000000);
    stop(s);
}

TEST_CASE(expired_tokens_are_gone)
{
    struct restfcgi_error err = {0};
    struct token_table *tt = token_table_attach("unit-expiry", 16, &err);
    CHECK(tt != NULL);
    uint8_t h[TOKEN_HASH_LEN] = {1, 2, 3};
    struct restfcgi_account a = account("alice"), got;
    int64_t until = 0;
    CHECK(token_table_put(tt, h, &a, 1000, &err));
    CHECK(token_table_get(tt, h, 999, 0, &got, &until));
    CHECK(!token_table_get(tt, h, 1000, 0, &got, &until));
    CHECK_INT(token_table_count(tt), 0);
    token_table_detach(tt);
}

TEST_CASE(full_table_evicts_the_least_recently_used)
{
    struct restfcgi_error err = {0};
    struct token_table *tt = token_table_attach("unit-lru", 16, &err);
    CHECK(tt != NULL);
    struct restfcgi_account a = account("alice"), got;
    uint8_t h[20][TOKEN_HASH_LEN] = {{0}};
    int64_t until = 0;
    for (int i = 0; i < 16; i++) {
        h[i][0] = (uint8_t)i;
        h[i][31] = 0xaa;
        CHECK(token_table_put(tt, h[i], &a, INT64_MAX, &err));
    }
    /* Using 0 makes 1 the least recently used. */
    CHECK(token_table_get(tt, h[0], 0, 1000, &got, &until));
    h[16][0] = 16;
    CHECK(token_table_put(tt, h[16], &a, INT64_MAX, &err));
    CHECK_INT(token_table_count(tt), 16);
    CHECK(token_table_get(tt, h[0], 0, 0, &got, &until));
    CHECK(!token_table_get(tt, h[1], 0, 0, &got, &until));
    CHECK(token_table_get(tt, h[16], 0, 0, &got, &until));
    token_table_detach(tt);
}

/* A token issued in one process verifies in the others; a revocation in
 * one is seen by all at once. Workers are forked after init, as the
 * supervisor does; each attaches in worker_init. */
TEST_CASE(shared_by_every_process_of_the_node)
{
    struct restfcgi_error err = {0};
    void *s = start("plugin = \"memory\";", &err);
    CHECK(s != NULL);
    int to_child[3][2], from_child[3][2];
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        if (pipe(to_child[i]) || pipe(from_child[i]))
            abort();
        pids[i] = fork();
        if (pids[i] == 0) {
            /* worker i: "issue" answers a token, "verify T" and "revoke" answer ok/no */
            /* Keep only this worker's ends, so that EOF reaches it. */
            for (int j = 0; j < i; j++) {
                close(to_child[j][1]);
                close(from_child[j][0]);
            }
            close(to_child[i][1]);
            close(from_child[i][0]);
            if (!ops.life.worker_init(s, &err))
                _exit(2);
            FILE *in = fdopen(to_child[i][0], "r"), *out = fdopen(from_child[i][1], "w");
            char line[256];
            struct restfcgi_account a = account("alice"), got;
            while (fgets(line, sizeof line, in)) {
                line[strcspn(line, "\n")] = '\0';
                struct restfcgi_token t;
                int64_t until = 0;
                if (!strcmp(line, "issue"))
                    fprintf(out, "%s\n", ops.issue(s, &a, &t, &err) ? t.value : "no");
                else if (!strncmp(line, "verify ", 7))
                    fprintf(out, "%s\n", ops.verify(s, "alice", line + 7, strlen(line + 7), &got, &until, &err)
                                             ? "ok" : "no");
                else if (!strcmp(line, "revoke"))
                    fprintf(out, "%s\n", ops.revoke(s, "alice", &err) ? "ok" : "no");
                fflush(out);
            }
            ops.life.cleanup(s);
            _exit(0);
        }
        close(to_child[i][0]);
        close(from_child[i][1]);
    }
    FILE *in[3], *out[3];
    for (int i = 0; i < 3; i++) {
        in[i] = fdopen(from_child[i][0], "r");
        out[i] = fdopen(to_child[i][1], "w");
    }
    char token[128], answer[128];
#define ASK(i, fmt, ...)                                          \
    (fprintf(out[i], fmt "\n", ##__VA_ARGS__), fflush(out[i]),    \
     fgets(answer, sizeof answer, in[i]) ? (answer[strcspn(answer, "\n")] = '\0', answer) : "eof")
    snprintf(token, sizeof token, "%s", ASK(0, "issue"));
    CHECK_INT(strlen(token), TOKEN_CHARS);
    CHECK_STR(ASK(1, "verify %s", token), "ok");
    CHECK_STR(ASK(2, "verify %s", token), "ok");
    CHECK_STR(ASK(0, "verify %s", token), "ok");
    CHECK_STR(ASK(2, "revoke"), "ok");
    CHECK_STR(ASK(0, "verify %s", token), "no");
    CHECK_STR(ASK(1, "verify %s", token), "no");
    for (int i = 0; i < 3; i++) {
        fclose(out[i]);
        fclose(in[i]);
        int st;
        waitpid(pids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop(s);
}

TEST_CASE(config_is_checked)
{
    struct restfcgi_error err = {0};
    CHECK(start("plugin = \"memory\"; ttl = 0;", &err) == NULL);
    CHECK(strstr(err.message, "ttl") != NULL);
    config_destroy(&conf);
    CHECK(start("plugin = \"memory\"; secret = \"x\";", &err) == NULL);
    CHECK(strstr(err.message, "secret") != NULL);
    config_destroy(&conf);
    CHECK(start("plugin = \"memory\"; capacity = 1;", &err) == NULL);
    CHECK(strstr(err.message, "capacity") != NULL);
    config_destroy(&conf);
}
