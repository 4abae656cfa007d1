/* libFuzzer target: the request pipeline (CGI params -> request view ->
 * router -> handler -> response) on arbitrary params and bodies.
 * Input: NUL-separated "NAME=VALUE" params, then "\n\n" and the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

struct body {
    const char *p;
    size_t len;
};

static long body_read(void *ctx, char *buf, size_t len)
{
    struct body *b = ctx;
    size_t n = len < b->len ? len : b->len;
    memcpy(buf, b->p, n);
    b->p += n;
    b->len -= n;
    return (long)n;
}

static bool discard(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg cfg;
    static bool loaded;
    if (!loaded) {
        char err[256];
        if (!cfg_load(&cfg, NULL, err, sizeof err))
            abort();
        cfg.limits.max_body = 4096;
        loaded = true;
    }
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *sep = strstr(copy, "\n\n");
    struct body body = {"", 0};
    size_t env_len = size;
    if (sep) {
        body = (struct body){sep + 2, size - (size_t)(sep + 2 - copy)};
        env_len = (size_t)(sep - copy);
        *sep = '\0';
    }
    char *envp[65];
    size_t n = 0;
    for (char *p = copy; p < copy + env_len && n < 64; p += strlen(p) + 1) {
        if (*p)
            envp[n++] = p;
    }
    envp[n] = NULL;
    struct app app = {.cfg = &cfg};
    struct arena arena;
    arena_init(&arena, 4096);
    struct request_io io = {.envp = envp, .read = body_read, .ctx = &body, .body_ends_at_eof = true};
    struct response_sink sink = {.write = discard};
    bool unread;
    app_handle(&app, &arena, &io, &sink, &unread);
    arena_destroy(&arena);
    free(copy);
    return 0;
}
