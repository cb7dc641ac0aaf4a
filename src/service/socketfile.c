/*
 * socketfile.c - stale unix socket files (socketfile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "socketfile.h"

int svc_clear_socket_path(const char *path, int type, const char *program, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot inspect %s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another --socket", path);
        return -1;
    }
    int probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int rc = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&addr, sizeof addr);
    int saved = errno;
    if (probe >= 0)
        close(probe);
    if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
        snprintf(err, errlen, "another process is already %s on %s (a running %s?); stop it or choose another --socket",
                 type == SOCK_DGRAM ? "receiving" : "listening", path, program);
        return -1;
    }
    if (saved != ECONNREFUSED) {
        snprintf(err, errlen, "cannot probe the existing socket %s: %s", path, strerror(saved));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int svc_bind_socket_file(const char *path, int type, unsigned mode, uid_t uid, gid_t gid, const char *program,
                         dev_t *dev, ino_t *ino, char *err, size_t errlen)
{
    if (svc_clear_socket_path(path, type & (SOCK_STREAM | SOCK_DGRAM), program, err, errlen) != 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a unix socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    mode_t old_umask = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int saved = errno;
    umask(old_umask);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind %s: %s (does the directory exist and is it writable?)", path,
                 strerror(saved));
        close(fd);
        return -1;
    }
    const char *step = NULL;
    struct stat st;
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0)
        step = "chown";
    else if (chmod(path, mode) != 0)
        step = "chmod";
    else if (stat(path, &st) != 0)
        step = "stat";
    if (step) {
        snprintf(err, errlen, "cannot %s %s: %s", step, path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return fd;
}

void svc_unlink_socket_file(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (path[0] && lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}
