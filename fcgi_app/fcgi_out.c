/* fcgi_out.c: libfcgi cuts its output at an 8 KiB buffer, one record and
 * one write() each (a page of 100 documents was four); a larger response
 * goes out here as 64 KiB records, all in one writev. libfcgi's stream
 * is flushed first (a no-op when empty), so the bytes stay in order, and
 * FCGX_Finish_r then writes the end of the stream and FCGI_END_REQUEST as
 * it always does. */
#include <errno.h>
#include <fastcgi.h>
#include <limits.h>
#include <sys/uio.h>

#include "fcgi_out.h"

/* Below this libfcgi's buffer takes it in one write anyway. */
#define SMALL_RESPONSE 8000

/* Records' content: a multiple of 8 under FCGI_MAX_LENGTH, so no padding. */
#define RECORD_MAX 65528

/* Records per writev: two iovecs each, within IOV_MAX (1024 on Linux). */
#define RECORDS_PER_CALL 256

static bool put_small(FCGX_Request *r, const char *p, size_t len)
{
    while (len) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (FCGX_PutStr(p, chunk, r->out) != chunk)
            return false;
        p += chunk;
        len -= (size_t)chunk;
    }
    return true;
}

/* writev until everything is written (a socket may take less). */
static bool writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return true;
}

bool fcgi_out_write(FCGX_Request *r, const void *data, size_t len)
{
    const char *p = data;
    if (len <= SMALL_RESPONSE || r->ipcFd < 0)
        return put_small(r, p, len);
    if (FCGX_FFlush(r->out) != 0)
        return false;
    FCGI_Header head[RECORDS_PER_CALL];
    struct iovec iov[2 * RECORDS_PER_CALL];
    while (len) {
        int n = 0;
        for (; len && n < RECORDS_PER_CALL; n++) {
            size_t chunk = len < RECORD_MAX ? len : RECORD_MAX;
            head[n] = (FCGI_Header){
                .version = FCGI_VERSION_1,
                .type = FCGI_STDOUT,
                .requestIdB1 = (unsigned char)(r->requestId >> 8),
                .requestIdB0 = (unsigned char)r->requestId,
                .contentLengthB1 = (unsigned char)(chunk >> 8),
                .contentLengthB0 = (unsigned char)chunk,
            };
            iov[2 * n] = (struct iovec){&head[n], FCGI_HEADER_LEN};
            iov[2 * n + 1] = (struct iovec){(void *)p, chunk};
            p += chunk;
            len -= chunk;
        }
        if (!writev_all(r->ipcFd, iov, 2 * n))
            return false;
    }
    return true;
}
