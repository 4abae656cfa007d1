#include <libconfig.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

/* restfcgi_conf is a libconfig group; plugins never see libconfig. */
static const config_setting_t *as_setting(const restfcgi_conf *c) { return (const config_setting_t *)c; }

static void host_log(enum restfcgi_log_level level, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(enum restfcgi_log_level level, const char *plugin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, plugin, fmt, ap);
    va_end(ap);
}

int64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t host_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool host_random_bytes(void *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return false;
    return RAND_bytes(buf, (int)len) == 1;
}

static void conf_where(const restfcgi_conf *group, char *buf, size_t len)
{
    const config_setting_t *s = as_setting(group);
    const char *file = s ? config_setting_source_file(s) : NULL;
    snprintf(buf, len, "%s:%u", file ? file : "<built-in defaults>",
             s ? config_setting_source_line(s) : 0);
}

static void conf_verror(struct restfcgi_error *err, const config_setting_t *s, const char *fmt,
                        va_list ap) __attribute__((format(printf, 3, 0)));

static void conf_verror(struct restfcgi_error *err, const config_setting_t *s, const char *fmt,
                        va_list ap)
{
    char at[200];
    conf_where((const restfcgi_conf *)s, at, sizeof at);
    err->domain = RESTFCGI_ERR_CONFIG;
    err->code = 0;
    int n = snprintf(err->message, sizeof err->message, "%.150s: ", at);
    if (n < 0 || (size_t)n >= sizeof err->message)
        return;
    vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
}

static void conf_error(struct restfcgi_error *err, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_error(struct restfcgi_error *err, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verror(err, s, fmt, ap);
    va_end(ap);
}

static bool conf_fail(const restfcgi_conf *group, struct restfcgi_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool conf_fail(const restfcgi_conf *group, struct restfcgi_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verror(err, as_setting(group), fmt, ap);
    va_end(ap);
    return false;
}

static bool conf_check_keys(const restfcgi_conf *group, const char *const *known,
                            struct restfcgi_error *err)
{
    const config_setting_t *g = as_setting(group);
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *const *k = known;
        while (*k && (!name || strcmp(*k, name) != 0))
            k++;
        if (!*k) {
            conf_error(err, s, "unknown key '%s'", name ? name : "(list element)");
            return false;
        }
    }
    return true;
}

/* The member key, or NULL; *err set when it exists with another type. */
static int conf_member(const restfcgi_conf *group, const char *key, int type1, int type2,
                       const char *type_name, const config_setting_t **out,
                       struct restfcgi_error *err)
{
    *out = NULL;
    const config_setting_t *s = config_setting_get_member(as_setting(group), key);
    if (!s)
        return RESTFCGI_CONF_ABSENT;
    int t = config_setting_type(s);
    if (t != type1 && t != type2) {
        conf_error(err, s, "'%s' must be %s", key, type_name);
        return RESTFCGI_CONF_WRONG_TYPE;
    }
    *out = s;
    return RESTFCGI_CONF_FOUND;
}

static int conf_string(const restfcgi_conf *group, const char *key, const char **out,
                       struct restfcgi_error *err)
{
    const config_setting_t *s;
    int r = conf_member(group, key, CONFIG_TYPE_STRING, CONFIG_TYPE_STRING, "a string", &s, err);
    *out = s ? config_setting_get_string(s) : NULL;
    return r;
}

static int conf_int(const restfcgi_conf *group, const char *key, int64_t *out,
                    struct restfcgi_error *err)
{
    const config_setting_t *s;
    int r = conf_member(group, key, CONFIG_TYPE_INT, CONFIG_TYPE_INT64, "an integer", &s, err);
    if (s)
        *out = config_setting_get_int64(s);
    return r;
}

static int conf_bool(const restfcgi_conf *group, const char *key, bool *out,
                     struct restfcgi_error *err)
{
    const config_setting_t *s;
    int r = conf_member(group, key, CONFIG_TYPE_BOOL, CONFIG_TYPE_BOOL, "a boolean", &s, err);
    if (s)
        *out = config_setting_get_bool(s) != 0;
    return r;
}

static int conf_group(const restfcgi_conf *group, const char *key, size_t index,
                      const restfcgi_conf **out, struct restfcgi_error *err)
{
    *out = NULL;
    const config_setting_t *s;
    if (key) {
        int r = conf_member(group, key, CONFIG_TYPE_GROUP, CONFIG_TYPE_LIST, "a group or list",
                            &s, err);
        *out = (const restfcgi_conf *)s;
        return r;
    }
    s = config_setting_get_elem(as_setting(group), (unsigned)index);
    if (!s)
        return RESTFCGI_CONF_ABSENT;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        conf_error(err, s, "list element %zu must be a group", index);
        return RESTFCGI_CONF_WRONG_TYPE;
    }
    *out = (const restfcgi_conf *)s;
    return RESTFCGI_CONF_FOUND;
}

static size_t conf_length(const restfcgi_conf *group, const char *key)
{
    const config_setting_t *s = as_setting(group);
    if (key)
        s = config_setting_get_member(s, key);
    if (!s || !config_setting_is_aggregate(s))
        return 0;
    return (size_t)config_setting_length(s);
}

/* Set once by main before any worker starts; read-only afterwards. */
static char instance[64] = "none";

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

void host_set_instance(const char *config_path, int own_listen_fd)
{
    /* One node = the processes of one user started with one config file
     * (else from one directory, where the default store lives), whatever
     * socket each was handed: lighttpd's max-procs and mod_fcgid give every
     * process its own. A socket restfcgi opened itself is part of the
     * identity too, so two supervisors on one config stay two nodes. */
    struct stat st;
    uint64_t h = 0xcbf29ce484222325ULL;
    uid_t uid = getuid();
    h = fnv1a(h, &uid, sizeof uid);
    if ((config_path && stat(config_path, &st) == 0) || stat(".", &st) == 0) {
        h = fnv1a(h, &st.st_dev, sizeof st.st_dev);
        h = fnv1a(h, &st.st_ino, sizeof st.st_ino);
    }
    if (own_listen_fd >= 0 && fstat(own_listen_fd, &st) == 0) {
        h = fnv1a(h, &st.st_dev, sizeof st.st_dev);
        h = fnv1a(h, &st.st_ino, sizeof st.st_ino);
    }
    snprintf(instance, sizeof instance, "n%016llx", (unsigned long long)h);
}

static const char *host_instance_key(void) { return instance; }

/* Set by app_worker_init before the plugins' worker_init. */
static uint32_t worker_threads = 1;

void host_set_worker_threads(uint32_t n) { worker_threads = n ? n : 1; }

static uint32_t host_worker_threads(void) { return worker_threads; }

static const struct restfcgi_host host = {
    .struct_size = sizeof(struct restfcgi_host),
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .version = RESTFCGI_VERSION,
    .log = host_log,
    .now_ms = host_now_ms,
    .monotonic_ms = host_monotonic_ms,
    .random_bytes = host_random_bytes,
    .conf_check_keys = conf_check_keys,
    .conf_string = conf_string,
    .conf_int = conf_int,
    .conf_bool = conf_bool,
    .conf_group = conf_group,
    .conf_length = conf_length,
    .conf_where = conf_where,
    .instance_key = host_instance_key,
    .conf_fail = conf_fail,
    .worker_threads = host_worker_threads,
};

const struct restfcgi_host *host_services(void) { return &host; }
