/*
 * bench_hello: the ceiling of the FastCGI path (issue 8's baseline). A
 * minimal libfcgi responder on the listening socket it inherits on fd 0
 * (spawn-fcgi, lighttpd bin-path), with THREADS accept loops like
 * restfcgi's, answering every request with a small JSON body in one write.
 *
 *   spawn-fcgi -s SOCKET -F WORKERS -- bench_hello [THREADS]
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static const char reply[] = "Status: 200 OK\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 22\r\n"
                            "\r\n"
                            "{\"message\" : \"hello\"}\n";

static void *accept_loop(void *arg)
{
    (void)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, 0, 0) != 0)
        return NULL;
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(reply, (int)sizeof reply - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: bench_hello [THREADS 1-256]\n");
        return 2;
    }
    if (FCGX_Init() != 0)
        return 1;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (!t)
        return 1;
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, accept_loop, NULL);
    accept_loop(NULL);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    free(t);
    return 0;
}
