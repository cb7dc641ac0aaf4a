/*
 * socket.c - the datagram socket and the privilege drop (socket.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "socket.h"

#define SD_LISTEN_FDS_START 3

static int lookup_ids(const nl_config_t *cfg, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (cfg->user) {
        struct passwd *pw = getpwnam(cfg->user);
        if (!pw) {
            snprintf(err, errlen, "user \"%s\" does not exist; create it or fix \"user\" / --user", cfg->user);
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (cfg->group) {
        struct group *gr = getgrnam(cfg->group);
        if (!gr) {
            snprintf(err, errlen, "group \"%s\" does not exist; create it or fix \"group\" / --group", cfg->group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

static void set_receive_buffer(nl_socket_t *s, size_t bytes)
{
    int want = bytes > (size_t)(1 << 30) ? 1 << 30 : (int)bytes;
    /* FORCE passes net.core.rmem_max when we may (root, systemd's
     * ReceiveBuffer= does the same); otherwise the kernel caps it. */
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    socklen_t len = sizeof s->rcvbuf;
    getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, &len);
}

static int use_inherited(nl_socket_t *s, char *err, size_t errlen)
{
    int fd = SD_LISTEN_FDS_START, type = 0;
    struct sockaddr_un addr;
    socklen_t tlen = sizeof type, alen = sizeof addr;
    memset(&addr, 0, sizeof addr);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0 || addr.sun_family != AF_UNIX) {
        snprintf(err, errlen,
                 "fd 3 from systemd is not a unix datagram socket; use ListenDatagram=/run/fastprom/nginx-log.sock "
                 "in the socket unit");
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    s->fd = fd;
    s->inherited = 1;
    snprintf(s->description, sizeof s->description, "inherited fd 3 (unix:%s)",
             addr.sun_path[0] ? addr.sun_path : "(abstract)");
    return 0;
}

/* 0 when nothing is at path (any more), -1 with err set otherwise. */
static int clear_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot inspect %s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another --socket", path);
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int rc = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&addr, sizeof addr);
    int saved = errno;
    if (probe >= 0)
        close(probe);
    if (rc == 0) {
        snprintf(err, errlen,
                 "another process receives on %s (a running fastprom-nginxlog?); stop it or choose another --socket",
                 path);
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

static int create_socket(const nl_config_t *cfg, nl_socket_t *s, char *err, size_t errlen)
{
    const char *path = cfg->socket_path;
    uid_t uid;
    gid_t gid;
    if (lookup_ids(cfg, &uid, &gid, err, errlen) != 0 || clear_path(path, err, errlen) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a unix datagram socket: %s", strerror(errno));
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
    else if (chmod(path, cfg->socket_mode) != 0)
        step = "chmod";
    else if (stat(path, &st) != 0)
        step = "stat";
    if (step) {
        snprintf(err, errlen, "cannot %s %s: %s", step, path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->description, sizeof s->description, "unix:%s (mode %04o)", path, cfg->socket_mode);
    return 0;
}

int nl_socket_open(const nl_config_t *cfg, nl_socket_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int rc;
    if (pid && fds && strtol(pid, NULL, 10) == (long)getpid() && strtol(fds, NULL, 10) >= 1) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        rc = use_inherited(s, err, errlen);
    } else {
        rc = create_socket(cfg, s, err, errlen);
    }
    if (rc == 0)
        set_receive_buffer(s, cfg->receive_buffer_bytes);
    return rc;
}

void nl_socket_close(nl_socket_t *s)
{
    struct stat st;
    if (s->fd < 0)
        return;
    if (!s->inherited && s->path[0] && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    close(s->fd);
    s->fd = -1;
}

int nl_drop_privileges(const nl_config_t *cfg, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    if (!cfg->user)
        return 0;
    if (lookup_ids(cfg, &uid, &gid, err, errlen) != 0)
        return -1;
    if (geteuid() != 0) {
        if (uid == geteuid())
            return 0;
        snprintf(err, errlen, "cannot switch to user \"%s\": not running as root (start as root, or drop \"user\")",
                 cfg->user);
        return -1;
    }
    if (initgroups(cfg->user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot switch to user \"%s\": %s", cfg->user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        snprintf(err, errlen, "switching to user \"%s\" left root privileges recoverable; refusing to run", cfg->user);
        return -1;
    }
    return 0;
}

long nl_unix_max_dgram_qlen(void)
{
    FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}
