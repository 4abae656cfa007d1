/* restfcgi: a RESTHeart-compatible REST API server for document data, as a
 * FastCGI application. This file is the command line and the choice of mode:
 * an inherited socket, --listen with a supervisor, or one CGI request. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "host.h"
#include "listen.h"
#include "log.h"
#include "server.h"
#include "supervisor.h"

enum exit_code { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_STORE = 3 };

struct options {
    const char *config_path; /* NULL: the default file if present, else built-in */
    const char *listen;
    long workers; /* 0: from the config */
    long threads;
    bool check_config;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: restfcgi [-c FILE] [--listen ADDR] [--workers N] [--threads N]\n"
            "                [--check-config] [--version] [--help]\n"
            "\n"
            "  -c, --config FILE  libconfig file (default " CONFIG_DEFAULT_PATH
            " if it exists,\n"
            "                     else built-in defaults: sqlite store in ./restfcgi-data)\n"
            "  --listen ADDR      unix:/path, HOST:PORT or [V6]:PORT; used when no listening\n"
            "                     socket is inherited on fd 0\n"
            "  --workers N        worker processes to pre-fork and supervise (default 1)\n"
            "  --threads N        accept loops per worker process (default 4)\n"
            "  --check-config     load the config and plugins, print 'config ok', exit\n"
            "  --version          print the version and exit\n"
            "\n"
            "Modes: a listening socket on fd 0 (spawn-fcgi, lighttpd bin-path, mod_fcgid);\n"
            "else --listen or the config's listen; else one CGI request from the environment.\n"
            "Exit codes: 0 ok, 1 config error, 2 usage error, 3 store unreachable at start.\n");
}

static bool parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = v;
    return true;
}

static void apply_overrides(struct cfg *cfg, void *ctx)
{
    const struct options *o = ctx;
    if (o->listen)
        cfg->listen = o->listen;
    if (o->workers)
        cfg->workers = o->workers;
    if (o->threads)
        cfg->threads = o->threads;
}

/* store.require_at_start under the supervisor: a child process (the parent
 * opens no store connection before fork) tries what a worker would. */
static bool store_reachable(struct app *app)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct restfcgi_error err = {0};
        bool ok = app_worker_init(app, &err) && app_store(app)->ping(app->store.state, &err);
        if (!ok)
            log_error("store unreachable at start: %s", err.message);
        _exit(ok ? 0 : EXIT_STORE);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_LISTEN = 256, OPT_WORKERS, OPT_THREADS, OPT_CHECK, OPT_VERSION };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_WORKERS:
            if (!parse_count(optarg, &o->workers) || !cfg_valid_workers(o->workers)) {
                fprintf(stderr, "restfcgi: --workers must be a number from 1 to 256\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_THREADS:
            if (!parse_count(optarg, &o->threads) || !cfg_valid_threads(o->threads)) {
                fprintf(stderr, "restfcgi: --threads must be a number from 1 to 256\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_CHECK:
            o->check_config = true;
            break;
        case OPT_VERSION:
            printf("restfcgi %s (plugin ABI %d.%d)\n", RESTFCGI_VERSION,
                   RESTFCGI_PLUGIN_ABI_MAJOR, RESTFCGI_PLUGIN_ABI_MINOR);
            return -1;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            fprintf(stderr, "restfcgi: option %s needs a value\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        default:
            fprintf(stderr, "restfcgi: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "restfcgi: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct options opts;
    int rc = parse_args(argc, argv, &opts);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;

    const char *path = opts.config_path;
    if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
        path = CONFIG_DEFAULT_PATH;

    char err[512];
    struct cfg *cfg = calloc(1, sizeof *cfg);
    struct app *app = calloc(1, sizeof *app);
    if (!cfg || !app) {
        fprintf(stderr, "restfcgi: out of memory\n");
        return EXIT_CONFIG;
    }
    if (!cfg_load(cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        free(cfg);
        free(app);
        return EXIT_CONFIG;
    }
    apply_overrides(cfg, &opts);
    log_set_level(cfg->log_level);

    struct restfcgi_error perr = {0};
    if (!app_init(app, cfg, &perr)) {
        fprintf(stderr, "%s\n", perr.message);
        cfg_free(cfg);
        free(cfg);
        free(app);
        return EXIT_CONFIG;
    }
    if (opts.check_config) {
        printf("config ok\n");
        rc = EXIT_OK;
        goto done;
    }

    int listen_fd = -1;
    bool inherited = listen_is_inherited(STDIN_FILENO);
    if (inherited) {
        listen_fd = STDIN_FILENO;
    } else if (cfg->listen) {
        listen_fd = listen_open(cfg->listen, err, sizeof err);
        if (listen_fd < 0) {
            log_error("%s", err);
            rc = EXIT_USAGE;
            goto done;
        }
    } else if (getenv("REQUEST_METHOD")) {
        host_set_instance(path, -1);
        if (!app_worker_init(app, &perr)) {
            log_error("%s", perr.message);
            rc = EXIT_STORE;
            goto done;
        }
        rc = server_run_cgi(app);
        goto done;
    } else {
        fprintf(stderr, "restfcgi: no listening socket on fd 0, no --listen or listen in the "
                        "config, and no CGI request in the environment\n");
        usage(stderr);
        rc = EXIT_USAGE;
        goto done;
    }

    host_set_instance(path, inherited ? -1 : listen_fd);
    if (inherited && cfg->workers == 1) {
        /* Whoever handed us the socket (spawn-fcgi -F, lighttpd, mod_fcgid)
         * supervises the processes; this one is a worker. */
        if (!app_worker_init(app, &perr)) {
            log_error("%s", perr.message);
            rc = EXIT_STORE;
            goto done;
        }
        rc = server_run(app, listen_fd, (int)cfg->threads);
        goto done;
    }
    if (cfg->store_require_at_start && !store_reachable(app)) {
        rc = EXIT_STORE;
        if (!inherited) {
            close(listen_fd);
            listen_cleanup(cfg->listen);
        }
        goto done;
    }
    struct supervisor_reload reload = {
        .config_path = path, .apply_overrides = apply_overrides, .ctx = &opts};
    const char *listen_addr = inherited ? NULL : cfg->listen;
    char *listen_copy = listen_addr ? strdup(listen_addr) : NULL;
    rc = supervisor_run(cfg, app, listen_fd, &reload); /* frees cfg and app */
    listen_cleanup(listen_copy);
    free(listen_copy);
    return rc;

done:
    app_free(app);
    free(app);
    cfg_free(cfg);
    free(cfg);
    return rc;
}
