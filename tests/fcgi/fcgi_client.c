/*
 * fcgi_client: a FastCGI client that plays the web server, so tests drive
 * restfcgi directly over its socket (as lighttpd's mod_fastcgi would).
 *
 *   fcgi_client -s unix:/path|HOST:PORT|[V6]:PORT [-m METHOD] [-u URI]
 *       [-H 'Name: value']... [-p NAME=VALUE]... [--unset NAME]...
 *       [-d BODY | --body-file FILE | --body-size N [--body-byte C]] [--content-length N]
 *       [--no-content-length] [--chunk N] [--delay-ms MS] [-n COUNT]
 *       [--keep-conn] [--abort] [--big-param N] [--raw HEX] [--get-values]
 *       [-t SECONDS] [--status-only]
 *
 * Prints the app's stdout stream (or only the HTTP status with
 * --status-only, one line per request). -n sends COUNT requests over one
 * connection with FCGI_KEEP_CONN. --abort sends FCGI_ABORT_REQUEST after
 * the params. --raw writes bytes as given and prints what comes back in hex.
 * --body-file sends a file's bytes as the body (NUL bytes, and more than one
 * argv string may hold).
 *
 * Exit codes: 0 every request completed (FCGI_END_REQUEST), 1 connection
 * closed early or protocol error, 2 usage, 3 timeout, 4 connect failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
};

enum { EXIT_DONE = 0, EXIT_EARLY = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_CONNECT = 4 };

struct buf {
    unsigned char *p;
    size_t len, cap;
};

struct param {
    char *name, *value;
};

struct options {
    const char *addr, *method, *uri, *raw;
    struct param *params;
    size_t nparams;
    const unsigned char *body;
    size_t body_len;
    unsigned char *body_owned;
    const char *content_length; /* NULL: the body's length */
    int no_content_length, keep_conn, abort_req, get_values, status_only;
    size_t chunk, big_param;
    int delay_ms, count, timeout_s, request_id;
};

static int64_t deadline_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die_oom(void)
{
    fprintf(stderr, "fcgi_client: out of memory\n");
    exit(EXIT_EARLY);
}

static void buf_add(struct buf *b, const void *data, size_t len)
{
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < len)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            die_oom();
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

/* Waits for fd to be ready; exits with EXIT_TIMEOUT past the deadline. */
static void wait_fd(int fd, short events)
{
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0) {
            fprintf(stderr, "fcgi_client: timeout\n");
            exit(EXIT_TIMEOUT);
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return;
        if (n < 0 && errno != EINTR) {
            perror("fcgi_client: poll");
            exit(EXIT_EARLY);
        }
    }
}

static void write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        wait_fd(fd, POLLOUT);
        ssize_t n = write(fd, p, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            fprintf(stderr, "fcgi_client: write: %s\n", n < 0 ? strerror(errno) : "closed");
            exit(EXIT_EARLY);
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Reads exactly len bytes; false when the peer closed first. */
static int read_exact(int fd, void *data, size_t len)
{
    unsigned char *p = data;
    while (len) {
        wait_fd(fd, POLLIN);
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static void record_write(int fd, int type, int id, const void *content, size_t len)
{
    unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                          (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
    write_all(fd, h, 8);
    if (len)
        write_all(fd, content, len);
}

/* A stream (PARAMS, STDIN) in records of at most chunk bytes, then the empty one. */
static void stream_write(int fd, int type, int id, const unsigned char *data, size_t len,
                         size_t chunk, int delay_ms)
{
    while (len) {
        size_t n = len < chunk ? len : chunk;
        if (delay_ms)
            usleep((useconds_t)delay_ms * 1000);
        record_write(fd, type, id, data, n);
        data += n;
        len -= n;
    }
    if (delay_ms)
        usleep((useconds_t)delay_ms * 1000);
    record_write(fd, type, id, NULL, 0);
}

static void length_encode(struct buf *b, size_t len)
{
    if (len < 128) {
        unsigned char c = (unsigned char)len;
        buf_add(b, &c, 1);
    } else {
        unsigned char c[4] = {(unsigned char)((len >> 24) | 0x80), (unsigned char)(len >> 16),
                              (unsigned char)(len >> 8), (unsigned char)len};
        buf_add(b, c, 4);
    }
}

static void pair_encode(struct buf *b, const char *name, const char *value, size_t vlen)
{
    length_encode(b, strlen(name));
    length_encode(b, vlen);
    buf_add(b, name, strlen(name));
    buf_add(b, value, vlen);
}

static int connect_to(const char *addr)
{
    int fd = -1;
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(addr + 5) >= sizeof sa.sun_path)
            return -1;
        strcpy(sa.sun_path, addr + 5);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host)
            return -1;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        int port = atoi(colon + 1);
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        socklen_t len;
        if (host[0] == '[') {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            host[strlen(host) - 1] = '\0';
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)port);
            if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
                return -1;
            len = sizeof *s6;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)port);
            if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                return -1;
            len = sizeof *s4;
        }
        fd = socket(ss.ss_family, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0)
            return fd;
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Later settings win: set replaces, value NULL removes. */
static void param_set(struct options *o, const char *name, size_t nlen, const char *value)
{
    for (size_t i = 0; i < o->nparams; i++) {
        if (strlen(o->params[i].name) == nlen && strncmp(o->params[i].name, name, nlen) == 0) {
            free(o->params[i].value);
            o->params[i].value = value ? strdup(value) : NULL;
            return;
        }
    }
    if (!value)
        return;
    struct param *p = realloc(o->params, (o->nparams + 1) * sizeof *p);
    if (!p)
        die_oom();
    o->params = p;
    p[o->nparams].name = strndup(name, nlen);
    p[o->nparams].value = strdup(value);
    if (!p[o->nparams].name || !p[o->nparams].value)
        die_oom();
    o->nparams++;
}

/* -H 'Name: value' as CGI does: HTTP_NAME, or CONTENT_TYPE/CONTENT_LENGTH. */
static int header_param(struct options *o, const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return 0;
    char name[256];
    size_t n = (size_t)(colon - h);
    if (n + 6 > sizeof name)
        return 0;
    int bare = (n == 12 && strncasecmp(h, "Content-Type", 12) == 0) ||
               (n == 14 && strncasecmp(h, "Content-Length", 14) == 0);
    size_t off = bare ? 0 : 5;
    memcpy(name, "HTTP_", off);
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        name[off + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
    }
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    param_set(o, name, off + n, v);
    return 1;
}

/* Reads records until END_REQUEST for id; the stdout stream goes to out. */
static int read_response(int fd, int id, struct buf *out)
{
    for (;;) {
        unsigned char h[8];
        if (!read_exact(fd, h, 8))
            return 0;
        if (h[0] != 1) {
            fprintf(stderr, "fcgi_client: record version %d\n", h[0]);
            return 0;
        }
        size_t len = ((size_t)h[4] << 8) | h[5];
        unsigned char content[65535 + 255];
        if (!read_exact(fd, content, len + h[6]))
            return 0;
        int rid = (h[2] << 8) | h[3];
        if (rid != id && h[1] != FCGI_GET_VALUES_RESULT) {
            fprintf(stderr, "fcgi_client: record for request %d, expected %d\n", rid, id);
            return 0;
        }
        switch (h[1]) {
        case FCGI_STDOUT:
            buf_add(out, content, len);
            break;
        case FCGI_STDERR:
            fprintf(stderr, "fcgi_client: app stderr: %.*s\n", (int)len, (const char *)content);
            break;
        case FCGI_END_REQUEST:
            if (len >= 5 && content[4] != 0)
                fprintf(stderr, "fcgi_client: protocol status %d\n", content[4]);
            return len >= 5 && content[4] == 0;
        default:
            fprintf(stderr, "fcgi_client: skipping record type %d\n", h[1]);
        }
    }
}

/* The status of a CGI response: its Status header, or 200. */
static int response_status(const struct buf *r)
{
    size_t i = 0;
    while (i < r->len) {
        const unsigned char *line = r->p + i;
        const unsigned char *nl = memchr(line, '\n', r->len - i);
        size_t n = nl ? (size_t)(nl - line) : r->len - i;
        if (n == 0 || (n == 1 && line[0] == '\r'))
            break;
        if (n > 8 && strncasecmp((const char *)line, "Status: ", 8) == 0)
            return atoi((const char *)line + 8);
        i += n + 1;
    }
    return r->len ? 200 : 0;
}

static int run_raw(int fd, const char *hex)
{
    struct buf b = {0};
    for (const char *p = hex; *p;) {
        if (*p == ' ' || *p == '\n' || *p == '\t') {
            p++;
            continue;
        }
        unsigned int v;
        if (sscanf(p, "%2x", &v) != 1 || !p[1]) {
            fprintf(stderr, "fcgi_client: bad hex at %s\n", p);
            free(b.p);
            return EXIT_USAGE;
        }
        unsigned char c = (unsigned char)v;
        buf_add(&b, &c, 1);
        p += 2;
    }
    write_all(fd, b.p, b.len);
    free(b.p);
    for (;;) {
        unsigned char data[4096];
        wait_fd(fd, POLLIN);
        ssize_t n = read(fd, data, sizeof data);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            printf("%02x", data[i]);
    }
    printf("\n");
    return EXIT_DONE;
}

static int run_get_values(int fd)
{
    struct buf b = {0};
    pair_encode(&b, "FCGI_MAX_CONNS", "", 0);
    pair_encode(&b, "FCGI_MAX_REQS", "", 0);
    pair_encode(&b, "FCGI_MPXS_CONNS", "", 0);
    record_write(fd, FCGI_GET_VALUES, 0, b.p, b.len);
    free(b.p);
    unsigned char h[8], content[65535 + 255];
    if (!read_exact(fd, h, 8))
        return EXIT_EARLY;
    size_t len = ((size_t)h[4] << 8) | h[5];
    if (!read_exact(fd, content, len + h[6]) || h[1] != FCGI_GET_VALUES_RESULT)
        return EXIT_EARLY;
    for (size_t i = 0; i < len;) {
        size_t l[2];
        for (int k = 0; k < 2; k++) {
            if (i >= len)
                return EXIT_EARLY;
            if (content[i] & 0x80) {
                if (i + 4 > len)
                    return EXIT_EARLY;
                l[k] = ((size_t)(content[i] & 0x7f) << 24) | ((size_t)content[i + 1] << 16) |
                       ((size_t)content[i + 2] << 8) | content[i + 3];
                i += 4;
            } else {
                l[k] = content[i++];
            }
        }
        if (i + l[0] + l[1] > len)
            return EXIT_EARLY;
        printf("%.*s=%.*s\n", (int)l[0], (const char *)content + i, (int)l[1],
               (const char *)content + i + l[0]);
        i += l[0] + l[1];
    }
    return EXIT_DONE;
}

static int run_requests(int fd, const struct options *o)
{
    struct buf params = {0};
    for (size_t i = 0; i < o->nparams; i++) {
        if (o->params[i].value)
            pair_encode(&params, o->params[i].name, o->params[i].value,
                        strlen(o->params[i].value));
    }
    if (o->big_param) {
        char *v = malloc(o->big_param);
        if (!v)
            die_oom();
        memset(v, 'a', o->big_param);
        pair_encode(&params, "X_BIG", v, o->big_param);
        free(v);
    }
    int keep = o->keep_conn || o->count > 1;
    int rc = EXIT_DONE;
    for (int r = 0; r < o->count && rc == EXIT_DONE; r++) {
        int id = o->request_id;
        unsigned char begin[8] = {0, 1, (unsigned char)(keep ? 1 : 0), 0, 0, 0, 0, 0};
        record_write(fd, FCGI_BEGIN_REQUEST, id, begin, sizeof begin);
        stream_write(fd, FCGI_PARAMS, id, params.p, params.len, 65535, 0);
        if (o->abort_req) {
            record_write(fd, FCGI_ABORT_REQUEST, id, NULL, 0);
            /* The app may answer or just close; either ends the request. */
            struct buf out = {0};
            read_response(fd, id, &out);
            fwrite(out.p ? (const void *)out.p : "", 1, out.len, stdout);
            free(out.p);
            break;
        }
        stream_write(fd, FCGI_STDIN, id, o->body, o->body_len, o->chunk, o->delay_ms);
        struct buf out = {0};
        if (!read_response(fd, id, &out)) {
            fprintf(stderr, "fcgi_client: connection ended before FCGI_END_REQUEST\n");
            rc = EXIT_EARLY;
        }
        if (o->status_only)
            printf("%d\n", response_status(&out));
        else
            fwrite(out.p ? (const void *)out.p : "", 1, out.len, stdout);
        free(out.p);
    }
    free(params.p);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: fcgi_client -s ADDR [-m METHOD] [-u URI] [-H H]... [-p N=V]... "
                    "[-d BODY] ... (see the top of fcgi_client.c)\n");
}

int main(int argc, char **argv)
{
    enum {
        O_UNSET = 256, O_CL, O_NO_CL, O_BODY_SIZE, O_BODY_BYTE, O_CHUNK, O_DELAY, O_KEEP,
        O_ABORT, O_BIG, O_RAW, O_GETV, O_STATUS, O_RID, O_BODY_FILE
    };
    static const struct option longopts[] = {
        {"unset", required_argument, NULL, O_UNSET},
        {"content-length", required_argument, NULL, O_CL},
        {"no-content-length", no_argument, NULL, O_NO_CL},
        {"body-size", required_argument, NULL, O_BODY_SIZE},
        {"body-byte", required_argument, NULL, O_BODY_BYTE},
        {"chunk", required_argument, NULL, O_CHUNK},
        {"delay-ms", required_argument, NULL, O_DELAY},
        {"keep-conn", no_argument, NULL, O_KEEP},
        {"abort", no_argument, NULL, O_ABORT},
        {"big-param", required_argument, NULL, O_BIG},
        {"raw", required_argument, NULL, O_RAW},
        {"get-values", no_argument, NULL, O_GETV},
        {"status-only", no_argument, NULL, O_STATUS},
        {"request-id", required_argument, NULL, O_RID},
        {"body-file", required_argument, NULL, O_BODY_FILE},
        {NULL, 0, NULL, 0},
    };
    struct options o = {.method = "GET", .uri = "/", .chunk = 65535, .count = 1,
                        .timeout_s = 10, .request_id = 1};
    struct param *later = NULL; /* -p and --unset, applied after the defaults */
    size_t nlater = 0;
    size_t body_size = 0;
    int body_byte = 'a', have_body_size = 0, c;
    const char *body_file = NULL;
    while ((c = getopt_long(argc, argv, "s:m:u:H:p:d:n:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o.addr = optarg; break;
        case 'm': o.method = optarg; break;
        case 'u': o.uri = optarg; break;
        case 'd':
            o.body = (const unsigned char *)optarg;
            o.body_len = strlen(optarg);
            break;
        case 'n': o.count = atoi(optarg); break;
        case 't': o.timeout_s = atoi(optarg); break;
        case 'H':
        case 'p':
        case O_UNSET: {
            struct param *p = realloc(later, (nlater + 1) * sizeof *p);
            if (!p)
                die_oom();
            later = p;
            later[nlater].name = optarg;
            later[nlater].value = (char *)(c == 'H' ? "H" : c == 'p' ? "p" : "u");
            nlater++;
            break;
        }
        case O_CL: o.content_length = optarg; break;
        case O_NO_CL: o.no_content_length = 1; break;
        case O_BODY_SIZE: body_size = strtoul(optarg, NULL, 10); have_body_size = 1; break;
        case O_BODY_BYTE: body_byte = optarg[0]; break;
        case O_CHUNK: o.chunk = strtoul(optarg, NULL, 10); break;
        case O_DELAY: o.delay_ms = atoi(optarg); break;
        case O_KEEP: o.keep_conn = 1; break;
        case O_ABORT: o.abort_req = 1; break;
        case O_BIG: o.big_param = strtoul(optarg, NULL, 10); break;
        case O_RAW: o.raw = optarg; break;
        case O_GETV: o.get_values = 1; break;
        case O_STATUS: o.status_only = 1; break;
        case O_RID: o.request_id = atoi(optarg); break;
        case O_BODY_FILE: body_file = optarg; break;
        default: usage(); return EXIT_USAGE;
        }
    }
    if (!o.addr || o.count < 1 || o.chunk < 1 || o.chunk > 65535 || o.timeout_s < 1 ||
        o.request_id < 1 || o.request_id > 65535) {
        usage();
        return EXIT_USAGE;
    }
    if (have_body_size) {
        o.body_owned = malloc(body_size ? body_size : 1);
        if (!o.body_owned)
            die_oom();
        memset(o.body_owned, body_byte, body_size);
        o.body = o.body_owned;
        o.body_len = body_size;
    } else if (body_file) {
        FILE *f = fopen(body_file, "rb");
        struct buf b = {0};
        unsigned char chunk[65536];
        size_t n;
        if (!f) {
            fprintf(stderr, "fcgi_client: %s: %s\n", body_file, strerror(errno));
            return EXIT_USAGE;
        }
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_add(&b, chunk, n);
        fclose(f);
        buf_add(&b, "", 0);
        o.body_owned = b.p ? b.p : malloc(1);
        if (!o.body_owned)
            die_oom();
        o.body = o.body_owned;
        o.body_len = b.len;
    }

    /* Default params as a web server sends them. */
    const char *q = strchr(o.uri, '?');
    char *path = strndup(o.uri, q ? (size_t)(q - o.uri) : strlen(o.uri));
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", o.body_len);
    const char *defaults[][2] = {
        {"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"SERVER_SOFTWARE", "fcgi_client"}, {"SERVER_NAME", "127.0.0.1"},
        {"SERVER_PORT", "80"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "40000"},
        {"REQUEST_METHOD", o.method}, {"REQUEST_URI", o.uri}, {"SCRIPT_NAME", ""},
        {"PATH_INFO", path ? path : ""}, {"QUERY_STRING", q ? q + 1 : ""},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        param_set(&o, defaults[i][0], strlen(defaults[i][0]), defaults[i][1]);
    if (!o.no_content_length && (o.body || o.content_length))
        param_set(&o, "CONTENT_LENGTH", 14, o.content_length ? o.content_length : clen);
    for (size_t i = 0; i < nlater; i++) {
        const char *arg = later[i].name;
        if (later[i].value[0] == 'H') {
            if (!header_param(&o, arg)) {
                fprintf(stderr, "fcgi_client: bad header %s\n", arg);
                return EXIT_USAGE;
            }
        } else if (later[i].value[0] == 'p') {
            const char *eq = strchr(arg, '=');
            param_set(&o, arg, eq ? (size_t)(eq - arg) : strlen(arg), eq ? eq + 1 : "");
        } else {
            param_set(&o, arg, strlen(arg), NULL);
        }
    }
    free(later);

    signal(SIGPIPE, SIG_IGN);
    deadline_ms = now_ms() + (int64_t)o.timeout_s * 1000;
    int fd = connect_to(o.addr);
    int rc;
    if (fd < 0) {
        fprintf(stderr, "fcgi_client: cannot connect to %s: %s\n", o.addr, strerror(errno));
        rc = EXIT_CONNECT;
    } else if (o.raw) {
        rc = run_raw(fd, o.raw);
    } else if (o.get_values) {
        rc = run_get_values(fd);
    } else {
        rc = run_requests(fd, &o);
    }
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < o.nparams; i++) {
        free(o.params[i].name);
        free(o.params[i].value);
    }
    free(o.params);
    free(o.body_owned);
    free(path);
    return rc;
}
