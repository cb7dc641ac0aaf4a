/*
 * socketfile.h - making room for a unix socket a daemon is about to bind.
 * A path that already exists is probed: a live peer means another daemon
 * runs there (refuse: never steal its socket), a refused connection means a
 * file a crash left behind (remove it), anything but a socket is refused.
 */
#ifndef SERVICE_SOCKETFILE_H
#define SERVICE_SOCKETFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * type: SOCK_STREAM or SOCK_DGRAM, as the daemon will bind. program names
 * the daemon that would be running there, in the message. Returns 0 when
 * nothing is at path (any more), -1 with one line in err otherwise.
 */
int svc_clear_socket_path(const char *path, int type, const char *program, char *err, size_t errlen);

/*
 * A unix socket of `type` bound at path, as a daemon's own: the path is
 * cleared first (above), the socket bound under umask 0177 so it never
 * exists with looser permissions than asked, then given uid/gid ((uid_t)-1,
 * (gid_t)-1: unchanged) and mode. *dev and *ino identify the file for
 * svc_unlink_socket_file. Returns the fd (close-on-exec; type may carry
 * SOCK_NONBLOCK), or -1 with one line in err and nothing left behind.
 */
int svc_bind_socket_file(const char *path, int type, unsigned mode, uid_t uid, gid_t gid, const char *program,
                         dev_t *dev, ino_t *ino, char *err, size_t errlen);

/* Removes path if it is still the file bound above (not one a successor
 * daemon has bound since). */
void svc_unlink_socket_file(const char *path, dev_t dev, ino_t ino);

#endif
