/*
 * listen.h - where the worker's connections come from: a listening socket
 * inherited from systemd (LISTEN_FDS, fd 3) or spawn-fcgi (fd 0), or a unix
 * socket it creates itself (never libfcgi's FCGX_OpenSocket, which unlinks a
 * live socket, ignores the mode and exit()s on errors). Also the privilege
 * drop that follows binding.
 */
#ifndef FCGI_LISTEN_H
#define FCGI_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct fcgi_listener {
    int fd;
    int inherited;  /* not ours: never unlinked */
    char path[108]; /* the socket file we created, "" otherwise */
    dev_t dev;      /* identity of that file, so only ours is removed */
    ino_t ino;
    char description[320]; /* for log lines: "unix:/run/x.sock", "inherited fd 3 (...)" */
} fcgi_listener_t;

/*
 * Uses an inherited listening socket when there is one, else creates the
 * unix socket cfg->socket_path: refuses when a live process answers there,
 * removes a stale socket file, binds with cfg->socket_mode and chowns it to
 * cfg->user / cfg->group. Returns 0, or -1 with one line in err.
 */
int fcgi_listen_open(const fcgi_config_t *cfg, fcgi_listener_t *l, char *err, size_t errlen);

/* Closes the socket and removes the file if we created it and it is still
 * the same file. */
void fcgi_listen_close(fcgi_listener_t *l);

/*
 * When running as root with cfg->user set: switches to that user (and
 * cfg->group, else the user's primary group) with its supplementary groups.
 * Not root: fine when cfg->user is the current user, an error otherwise.
 * Returns 0, or -1 with one line in err.
 */
int fcgi_drop_privileges(const fcgi_config_t *cfg, char *err, size_t errlen);

#endif
