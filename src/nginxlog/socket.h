/*
 * socket.h - the unix datagram socket nginx logs to, and the privilege drop
 * that follows binding it.
 *
 * The socket comes from systemd (ListenDatagram=, LISTEN_FDS, fd 3) or is
 * created here: a path where a live receiver answers is refused, a stale
 * file left by a crash is replaced, the socket is bound under umask 0177 and
 * then given the configured owner and mode (nginx's workers need write
 * permission to send).
 */
#ifndef NGINXLOG_SOCKET_H
#define NGINXLOG_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct nl_socket {
    int fd;
    int inherited;
    char path[108]; /* the file we created, "" otherwise */
    dev_t dev;      /* its identity, so only ours is ever unlinked */
    ino_t ino;
    int rcvbuf; /* SO_RCVBUF the kernel granted */
    char description[200];
} nl_socket_t;

/* Returns 0, or -1 with one line in err. */
int nl_socket_open(const nl_config_t *cfg, nl_socket_t *s, char *err, size_t errlen);

/* Closes; removes the file when we created it and it is still ours. */
void nl_socket_close(nl_socket_t *s);

/* As root with cfg->user: becomes that user (cfg->group, else the user's
 * group) irreversibly. Not root: fine when already that user. 0 or -1. */
int nl_drop_privileges(const nl_config_t *cfg, char *err, size_t errlen);

/* net.unix.max_dgram_qlen of this network namespace, or -1 if unreadable. */
long nl_unix_max_dgram_qlen(void);

#endif
