/*
 * socket.c - the datagram socket and the privilege drop (socket.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/privileges.h"
#include "service/socketfile.h"
#include "socket.h"

#define SD_LISTEN_FDS_START 3

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

static int create_socket(const nl_config_t *cfg, nl_socket_t *s, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    if (svc_lookup_ids(cfg->user, cfg->group, &uid, &gid, err, errlen) != 0)
        return -1;
    s->fd = svc_bind_socket_file(cfg->socket_path, SOCK_DGRAM | SOCK_NONBLOCK, cfg->socket_mode, uid, gid,
                                 "fastprom-nginxlog", &s->dev, &s->ino, err, errlen);
    if (s->fd < 0)
        return -1;
    snprintf(s->path, sizeof s->path, "%s", cfg->socket_path);
    snprintf(s->description, sizeof s->description, "unix:%s (mode %04o)", cfg->socket_path, cfg->socket_mode);
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
    if (s->fd < 0)
        return;
    if (!s->inherited)
        svc_unlink_socket_file(s->path, s->dev, s->ino);
    close(s->fd);
    s->fd = -1;
}

int nl_drop_privileges(const nl_config_t *cfg, char *err, size_t errlen)
{
    return svc_drop_privileges(cfg->user, cfg->group, err, errlen);
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
