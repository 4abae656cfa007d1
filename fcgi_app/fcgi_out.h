/* fcgi_out.h: a whole response onto a FastCGI connection in as few
 * system calls as the protocol allows. */
#ifndef RESTFCGI_FCGI_OUT_H
#define RESTFCGI_FCGI_OUT_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes data as the request's FCGI_STDOUT content; false when the
 * connection failed. FCGX_Finish_r ends the stream as usual. */
bool fcgi_out_write(FCGX_Request *r, const void *data, size_t len);

#endif
