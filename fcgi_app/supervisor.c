#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "server.h"
#include "supervisor.h"

#define STOP_GRACE_MS 30000   /* then workers still running get SIGKILL */
#define QUICK_EXIT_MS 1000    /* a worker dying sooner counts as a failure */
#define BACKOFF_FIRST_MS 100  /* doubled per consecutive quick failure */
#define BACKOFF_MAX_MS 5000

struct slot {
    pid_t pid;          /* 0: not running */
    int64_t started_ms; /* monotonic */
    int failures;       /* consecutive quick exits */
    int64_t respawn_at; /* monotonic; when pid == 0 */
};

/* One configuration's workers. A reload starts a new generation and stops
 * the old one once the new one runs. */
struct generation {
    struct cfg *cfg;
    struct app *app;
    struct slot *slots;
    int nslots;
};

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(signal_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void reset_handlers(void)
{
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

static pid_t spawn_worker(const struct generation *g, int listen_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        if (pid < 0)
            log_error("fork: %s", strerror(errno));
        return pid < 0 ? 0 : pid;
    }
    reset_handlers();
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    /* A worker must not outlive a supervisor killed without a chance to stop it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* Killed before prctl: adopted by init or by a subreaper (not always pid 1). */
    if (getppid() != parent)
        _exit(0);
    struct restfcgi_error err = {0};
    if (!app_worker_init(g->app, &err)) {
        log_error("worker start failed: %s", err.message);
        _exit(3);
    }
    int status = server_run(g->app, listen_fd, (int)g->cfg->threads);
    app_free(g->app);
    _exit(status);
}

static void slot_start(struct generation *g, int i, int listen_fd)
{
    struct slot *s = &g->slots[i];
    s->pid = spawn_worker(g, listen_fd);
    s->started_ms = host_monotonic_ms();
    if (!s->pid) {
        s->failures++;
        s->respawn_at = s->started_ms + BACKOFF_MAX_MS;
    }
}

static bool generation_new(struct generation *g, struct cfg *cfg, struct app *app,
                           int listen_fd)
{
    g->cfg = cfg;
    g->app = app;
    g->nslots = (int)cfg->workers;
    g->slots = calloc((size_t)g->nslots, sizeof *g->slots);
    if (!g->slots)
        return false;
    for (int i = 0; i < g->nslots; i++)
        slot_start(g, i, listen_fd);
    log_info("started %d workers", g->nslots);
    return true;
}

static void generation_signal(const struct generation *g, int sig)
{
    for (int i = 0; i < g->nslots; i++) {
        if (g->slots[i].pid > 0)
            kill(g->slots[i].pid, sig);
    }
}

static int generation_running(const struct generation *g)
{
    int n = 0;
    for (int i = 0; i < g->nslots; i++)
        n += g->slots[i].pid > 0;
    return n;
}

static void generation_free(struct generation *g)
{
    if (g->app) {
        app_free(g->app);
        free(g->app);
    }
    if (g->cfg) {
        cfg_free(g->cfg);
        free(g->cfg);
    }
    free(g->slots);
    memset(g, 0, sizeof *g);
}

/* Marks pid gone in whichever generation had it; true when it was current. */
static bool reap_one(struct generation *cur, struct generation *old, pid_t pid, int status,
                     bool stopping)
{
    for (int gen = 0; gen < 2; gen++) {
        struct generation *g = gen == 0 ? cur : old;
        for (int i = 0; i < g->nslots; i++) {
            struct slot *s = &g->slots[i];
            if (s->pid != pid)
                continue;
            s->pid = 0;
            int64_t now = host_monotonic_ms();
            bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (gen == 0 && !stopping) {
                if (WIFSIGNALED(status))
                    log_warn("worker %d killed by signal %d; respawning", (int)pid,
                             WTERMSIG(status));
                else
                    log_warn("worker %d exited with status %d; respawning", (int)pid,
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                if (now - s->started_ms < QUICK_EXIT_MS)
                    s->failures++;
                else
                    s->failures = 0;
                int64_t delay = 0;
                if (s->failures > 0) {
                    delay = BACKOFF_FIRST_MS << (s->failures > 6 ? 6 : s->failures - 1);
                    if (delay > BACKOFF_MAX_MS)
                        delay = BACKOFF_MAX_MS;
                }
                s->respawn_at = now + delay;
            } else if (!clean) {
                log_warn("stopping worker %d ended with status 0x%x", (int)pid, status);
            }
            return gen == 0;
        }
    }
    return false;
}

/* SIGHUP: a new config and new plugins, new workers, then the old ones stop
 * gracefully. A config that fails to load changes nothing. */
static void reload(struct generation *cur, struct generation *old, int listen_fd,
                   const struct supervisor_reload *r)
{
    char err[512];
    struct cfg *cfg = calloc(1, sizeof *cfg);
    struct app *app = calloc(1, sizeof *app);
    struct restfcgi_error perr = {0};
    if (!cfg || !app) {
        log_error("reload: out of memory");
        free(cfg);
        free(app);
        return;
    }
    if (!cfg_load(cfg, r->config_path, err, sizeof err)) {
        log_error("reload refused, keeping the running config: %s", err);
        free(cfg);
        free(app);
        return;
    }
    if (r->apply_overrides)
        r->apply_overrides(cfg, r->ctx);
    if (!app_init(app, cfg, &perr)) {
        log_error("reload refused, keeping the running config: %s", perr.message);
        cfg_free(cfg);
        free(cfg);
        free(app);
        return;
    }
    log_set_level(cfg->log_level);
    if (old->slots) {
        /* A reload during a reload: the older workers stop now. */
        generation_signal(old, SIGTERM);
        log_warn("reload while a previous reload is still stopping workers");
    }
    /* The generation before last keeps its processes listed until they exit. */
    struct generation prev = *cur;
    if (!generation_new(cur, cfg, app, listen_fd)) {
        log_error("reload: out of memory");
        app_free(app);
        free(app);
        cfg_free(cfg);
        free(cfg);
        *cur = prev;
        return;
    }
    if (old->slots) {
        generation_free(old); /* their pids are no longer tracked; they stop on SIGTERM */
    }
    *old = prev;
    generation_signal(old, SIGTERM);
    log_info("reloaded %s", cfg->path);
}

int supervisor_run(struct cfg *cfg, struct app *app, int listen_fd,
                   const struct supervisor_reload *r)
{
    struct generation cur = {0}, old = {0};
    bool stopping = false;
    int64_t stop_deadline = 0;
    int status = 0;

    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_error("pipe: %s", strerror(errno));
        return 1;
    }
    install_handlers();
    if (!generation_new(&cur, cfg, app, listen_fd)) {
        log_error("out of memory");
        return 1;
    }
    log_info("supervisor %d running %d workers x %lld threads", (int)getpid(), cur.nslots,
             (long long)cfg->threads);

    for (;;) {
        int64_t now = host_monotonic_ms();
        int timeout = -1;
        if (stopping) {
            if (generation_running(&cur) + generation_running(&old) == 0)
                break;
            if (now >= stop_deadline) {
                log_warn("workers still running after %d ms: killing them", STOP_GRACE_MS);
                generation_signal(&cur, SIGKILL);
                generation_signal(&old, SIGKILL);
                stop_deadline = now + 60000;
            }
            timeout = (int)(stop_deadline - now);
        } else {
            for (int i = 0; i < cur.nslots; i++) {
                struct slot *s = &cur.slots[i];
                if (s->pid)
                    continue;
                if (s->respawn_at <= now)
                    slot_start(&cur, i, listen_fd);
                if (!s->pid) {
                    int64_t wait = s->respawn_at - now;
                    if (wait < 0)
                        wait = 0;
                    if (timeout < 0 || wait < timeout)
                        timeout = (int)wait;
                }
            }
        }
        struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            status = 1;
            break;
        }
        unsigned char sigs[64];
        ssize_t got;
        while ((got = read(signal_pipe[0], sigs, sizeof sigs)) > 0) {
            for (ssize_t i = 0; i < got; i++) {
                int sig = sigs[i];
                if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
                    log_info("stopping: workers finish requests in flight");
                    stopping = true;
                    stop_deadline = host_monotonic_ms() + STOP_GRACE_MS;
                    generation_signal(&cur, SIGTERM);
                    generation_signal(&old, SIGTERM);
                } else if (sig == SIGHUP && !stopping) {
                    log_info("SIGHUP: reloading");
                    reload(&cur, &old, listen_fd, r);
                }
            }
        }
        pid_t pid;
        int wstatus;
        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
            reap_one(&cur, &old, pid, wstatus, stopping);
        if (old.slots && generation_running(&old) == 0)
            generation_free(&old);
    }
    generation_free(&cur);
    generation_free(&old);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    log_info("supervisor stopped");
    return status;
}
