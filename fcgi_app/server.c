#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fcgi_out.h"
#include "log.h"
#include "server.h"

extern char **environ;

struct server {
    const struct app *app;
    int listen_fd;
    int wake_rd; /* readable (EOF) once the worker must stop */
    bool unix_socket; /* listen_fd is AF_UNIX: see take_connection */
};

static long fcgi_read(void *ctx, char *buf, size_t len)
{
    FCGX_Request *r = ctx;
    int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
    int n = FCGX_GetStr(buf, chunk, r->in);
    if (n == 0 && FCGX_GetError(r->in)) {
        int e = FCGX_GetError(r->in);
        if (e == EAGAIN || e == EWOULDBLOCK)
            log_warn("request body: nothing came for limits.io_timeout_ms; the connection is dropped");
        return -1;
    }
    return n;
}

static bool fcgi_write(void *ctx, const void *data, size_t len)
{
    return fcgi_out_write(ctx, data, len);
}

/* Bounds each read and write on a FastCGI connection (SO_RCVTIMEO,
 * SO_SNDTIMEO): a peer that stops sending or reading mid-request would
 * otherwise hold this accept loop forever. A TCP connection inherits it from
 * the listening socket; a unix one gets it in take_connection. 0: no bound. */
static void set_io_timeout(int fd, int64_t ms)
{
    if (ms <= 0 || fd < 0)
        return;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* libfcgi drops a unix connection that sends nothing within this (its
 * READABLE_UNIX_FD_DROP_DEAD_TIMEVAL); take_connection keeps that. */
#define FIRST_BYTE_MS 2000

/* An accept that failed: -EAGAIN (another thread or process took the
 * connection), a client gone before it was taken and a closed kept
 * connection (-EBADF on a unix socket, see accept_loop) are no news; the
 * rest is logged. */
static void accept_failed(const struct server *srv, int rc)
{
    if (rc == -EBADF && srv->unix_socket)
        return;
    if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -ECONNRESET && rc != -EPIPE &&
        rc != -ECONNABORTED && rc != -EINTR) {
        log_warn("FCGX_Accept_r: %s", rc > -4096 ? strerror(-rc) : "protocol error");
        if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM)
            usleep(100 * 1000);
    }
}

/* A unix connection inherits no timeout, and FCGX_Accept_r reads the params
 * before it returns: the connection is accepted here, bounded, and handed to
 * libfcgi as a kept one (it reads from ipcFd when set and keepConnection is).
 * False: no connection to serve. */
static bool take_connection(const struct server *srv, FCGX_Request *req)
{
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        accept_failed(srv, -errno);
        return false;
    }
    struct pollfd first = {.fd = fd, .events = POLLIN};
    if (poll(&first, 1, FIRST_BYTE_MS) <= 0) {
        close(fd);
        return false;
    }
    set_io_timeout(fd, srv->app->cfg->limits.io_timeout_ms);
    req->ipcFd = fd;
    req->keepConnection = 1;
    return true;
}

/* After a refused body: read it to the end so a kept connection stays in
 * step, but never more than a bounded amount; past that, drop the connection. */
static void drain_body(FCGX_Request *r, int64_t max_body)
{
    char scratch[16384];
    int64_t budget = 4 * max_body + (1 << 20);
    while (budget > 0) {
        int n = FCGX_GetStr(scratch, sizeof scratch, r->in);
        if (n <= 0)
            return;
        budget -= n;
    }
    /* libfcgi 2.4 keeps this flag in the request; clearing it closes the
     * connection at FCGX_Finish_r instead of reading the rest. */
    r->keepConnection = 0;
}

/* Waits until fd has data or the worker is told to stop (false). */
static bool wait_readable(const struct server *srv, int fd)
{
    struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = srv->wake_rd, .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("poll: %s", strerror(errno));
            return false;
        }
        if (fds[1].revents)
            return false;
        if (fds[0].revents & POLLNVAL) {
            log_error("socket %d is not open; this accept loop stops", fd);
            return false;
        }
        return true;
    }
}

static void *accept_loop(void *arg)
{
    const struct server *srv = arg;
    FCGX_Request req;
    struct arena arena;
    /* On a unix socket libfcgi never accepts itself (take_connection does):
     * after dropping a connection it would take the next one unbounded.
     * It meets -1 instead and returns -EBADF. */
    if (FCGX_InitRequest(&req, srv->unix_socket ? -1 : srv->listen_fd, 0) != 0) {
        log_error("FCGX_InitRequest failed");
        return NULL;
    }
    arena_init(&arena, 16384);
    /* Poll before every accept, on the kept connection or the listening
     * socket, so a stop request is seen without signals or blocking. */
    while (wait_readable(srv, req.ipcFd >= 0 ? req.ipcFd : srv->listen_fd)) {
        if (req.ipcFd < 0 && srv->unix_socket && !take_connection(srv, &req))
            continue;
        int rc = FCGX_Accept_r(&req);
        if (rc < 0) {
            accept_failed(srv, rc);
            continue;
        }
        struct request_io io = {
            .envp = req.envp, .read = fcgi_read, .ctx = &req, .body_ends_at_eof = true};
        struct response_sink sink = {.write = fcgi_write, .ctx = &req};
        bool body_unread = false;
        if (!app_handle(srv->app, &arena, &io, &sink, &body_unread))
            log_debug("client went away before the response was written");
        if (body_unread)
            drain_body(&req, srv->app->cfg->limits.max_body);
        FCGX_Finish_r(&req);
        arena_reset(&arena);
    }
    FCGX_Free(&req, 1);
    arena_destroy(&arena);
    return NULL;
}

int server_run(const struct app *app, int listen_fd, int threads)
{
    int wake[2] = {-1, -1};
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    int started = 0, status = 1;
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    /* Threads inherit the mask: only the main thread takes these, by sigwait. */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!tids || pipe2(wake, O_CLOEXEC) != 0) {
        log_error("cannot start the worker: %s", strerror(errno));
        goto done;
    }
    int flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        log_error("listening socket: %s", strerror(errno));
        goto done;
    }
    set_io_timeout(listen_fd, app->cfg->limits.io_timeout_ms);
    if (FCGX_Init() != 0) {
        log_error("FCGX_Init failed");
        goto done;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    bool unix_socket = getsockname(listen_fd, (struct sockaddr *)&addr, &addr_len) == 0 &&
                       addr.ss_family == AF_UNIX;
    struct server srv = {
        .app = app, .listen_fd = listen_fd, .wake_rd = wake[0], .unix_socket = unix_socket};
    for (; started < threads; started++) {
        int e = pthread_create(&tids[started], NULL, accept_loop, &srv);
        if (e) {
            log_error("pthread_create: %s", strerror(e));
            break;
        }
    }
    if (started == threads) {
        log_info("worker ready: %d accept loops", threads);
        for (;;) {
            int sig = 0;
            if (sigwait(&stop_signals, &sig) != 0)
                continue;
            if (sig == SIGHUP)
                continue; /* reloads are the supervisor's business */
            log_info("worker stopping (%s): finishing requests in flight", strsignal(sig));
            break;
        }
        status = 0;
    }
    /* EOF on the wake pipe reaches every thread's poll at once. */
    close(wake[1]);
    wake[1] = -1;
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

done:
    if (wake[0] >= 0)
        close(wake[0]);
    if (wake[1] >= 0)
        close(wake[1]);
    free(tids);
    return status;
}

static long cgi_read(void *ctx, char *buf, size_t len)
{
    (void)ctx;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return (long)n;
    }
}

static bool cgi_write(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    const char *p = data;
    while (len) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

int server_run_cgi(const struct app *app)
{
    struct arena arena;
    arena_init(&arena, 16384);
    signal(SIGPIPE, SIG_IGN);
    struct request_io io = {.envp = environ, .read = cgi_read, .body_ends_at_eof = false};
    struct response_sink sink = {.write = cgi_write};
    bool body_unread = false;
    bool ok = app_handle(app, &arena, &io, &sink, &body_unread);
    arena_destroy(&arena);
    return ok ? 0 : 1;
}
