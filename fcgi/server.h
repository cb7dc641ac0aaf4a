/*
 * server.h - the worker threads: accepting FastCGI connections, reading
 * requests with libfcgi, answering through route.c, and stopping cleanly.
 */
#ifndef FCGI_SERVER_H
#define FCGI_SERVER_H

#include <stddef.h>

#include "app.h"

typedef struct fcgi_server fcgi_server_t;

/*
 * Initialises libfcgi and starts `threads` threads serving connections from
 * listen_fd. Call with SIGTERM/SIGINT/SIGHUP blocked: the threads inherit
 * the mask and signals go to the thread that waits for them. Returns NULL
 * with one line in err.
 */
fcgi_server_t *fcgi_server_start(fcgi_app_t *app, int listen_fd, unsigned threads, char *err, size_t errlen);

/* Stops accepting, lets every thread finish its request, joins them and
 * frees the server. listen_fd stays open (the caller owns it). */
void fcgi_server_stop(fcgi_server_t *srv);

#endif
