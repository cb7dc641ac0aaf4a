/*
 * listen.c - the listening socket and the privilege drop (listen.h).
 *
 * The socket is created with umask 0177 so it never exists with looser
 * permissions than configured, then chowned and chmod'ed. A path that
 * already exists is probed first: a live listener means another worker is
 * running there (refuse), a refused connection means a stale file left by a
 * crash (remove it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

#define SD_LISTEN_FDS_START 3

static int is_listening_socket(int fd)
{
    int yes = 0;
    socklen_t len = sizeof yes;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) == 0 && yes;
}

/* Names the socket's address; 0 when it is unix or loopback, -1 otherwise. */
static int describe_address(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(out, outlen, "an unknown address");
        return -1;
    }
    if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        snprintf(out, outlen, "unix:%s", un->sun_path[0] ? un->sun_path : "(abstract)");
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ? 0 : -1;
    }
    snprintf(out, outlen, "an address of family %d", ss.ss_family);
    return -1;
}

/* systemd's LISTEN_FDS for this process, else fd 0 when it listens; -1. */
static int inherited_fd(const char **how)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (pid && fds && strtol(pid, NULL, 10) == (long)getpid() && strtol(fds, NULL, 10) >= 1) {
        /* Consumed: children (none today) must not think they got it too. */
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        *how = "systemd LISTEN_FDS";
        return SD_LISTEN_FDS_START;
    }
    if (is_listening_socket(0)) {
        *how = "fd 0, e.g. spawn-fcgi";
        return 0;
    }
    return -1;
}

static int use_inherited(int fd, const char *how, fcgi_listener_t *l, char *err, size_t errlen)
{
    char addr[160];
    if (!is_listening_socket(fd)) {
        snprintf(err, errlen, "fd %d from %s is not a listening socket; check the socket unit", fd, how);
        return -1;
    }
    if (describe_address(fd, addr, sizeof addr) != 0) {
        snprintf(err, errlen,
                 "the inherited socket (fd %d, %s) listens on %s; fastprom-fcgi serves only a unix socket or "
                 "loopback TCP, never a public address",
                 fd, how, addr);
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    l->fd = fd;
    l->inherited = 1;
    snprintf(l->description, sizeof l->description, "inherited fd %d from %s (%s)", fd, how, addr);
    return 0;
}

static int lookup_ids(const fcgi_config_t *cfg, uid_t *uid, gid_t *gid, char *err, size_t errlen)
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
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int rc = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&addr, sizeof addr);
    int saved = errno;
    if (probe >= 0)
        close(probe);
    if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
        snprintf(err, errlen,
                 "another process is already listening on %s (a running fastprom-fcgi?); stop it or choose another "
                 "--socket",
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

static int create_socket(const fcgi_config_t *cfg, fcgi_listener_t *l, char *err, size_t errlen)
{
    const char *path = cfg->socket_path;
    uid_t uid;
    gid_t gid;
    if (lookup_ids(cfg, &uid, &gid, err, errlen) != 0 || clear_path(path, err, errlen) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    else if (chmod(path, cfg->socket_mode) != 0)
        step = "chmod";
    else if (listen(fd, cfg->listen_backlog) != 0)
        step = "listen on";
    else if (stat(path, &st) != 0)
        step = "stat";
    if (step) {
        snprintf(err, errlen, "cannot %s %s: %s", step, path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    l->fd = fd;
    l->inherited = 0;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    snprintf(l->path, sizeof l->path, "%s", path);
    snprintf(l->description, sizeof l->description, "unix:%s (mode %04o)", path, cfg->socket_mode);
    return 0;
}

int fcgi_listen_open(const fcgi_config_t *cfg, fcgi_listener_t *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    const char *how = NULL;
    int fd = inherited_fd(&how);
    if (fd >= 0)
        return use_inherited(fd, how, l, err, errlen);
    return create_socket(cfg, l, err, errlen);
}

void fcgi_listen_close(fcgi_listener_t *l)
{
    struct stat st;
    if (l->fd < 0)
        return;
    if (!l->inherited && l->path[0] && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        unlink(l->path);
    close(l->fd);
    l->fd = -1;
}

int fcgi_drop_privileges(const fcgi_config_t *cfg, char *err, size_t errlen)
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
    if (setuid(0) == 0) { /* the switch must be irreversible */
        snprintf(err, errlen, "switching to user \"%s\" left root privileges recoverable; refusing to run", cfg->user);
        return -1;
    }
    return 0;
}
