/*
 * listen.c - the listening socket and the privilege drop (listen.h).
 *
 * Creating the socket file (probe, umask, owner, mode) and dropping
 * privileges are shared with fastprom-nginxlog: src/service/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "service/privileges.h"
#include "service/socketfile.h"

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

static int create_socket(const fcgi_config_t *cfg, fcgi_listener_t *l, char *err, size_t errlen)
{
    const char *path = cfg->socket_path;
    uid_t uid;
    gid_t gid;
    if (svc_lookup_ids(cfg->user, cfg->group, &uid, &gid, err, errlen) != 0)
        return -1;
    int fd = svc_bind_socket_file(path, SOCK_STREAM, cfg->socket_mode, uid, gid, "fastprom-fcgi", &l->dev, &l->ino, err,
                                  errlen);
    if (fd < 0)
        return -1;
    if (listen(fd, cfg->listen_backlog) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    l->fd = fd;
    l->inherited = 0;
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
    if (l->fd < 0)
        return;
    if (!l->inherited)
        svc_unlink_socket_file(l->path, l->dev, l->ino);
    close(l->fd);
    l->fd = -1;
}

int fcgi_drop_privileges(const fcgi_config_t *cfg, char *err, size_t errlen)
{
    return svc_drop_privileges(cfg->user, cfg->group, err, errlen);
}
