/*
 * sndbuf_preload.c - LD_PRELOAD'ed into nginx by bench_nginxlog.py: gives
 * each unix datagram socket nginx connects (its syslog socket) the send
 * buffer in $FASTPROM_BENCH_SNDBUF, as net.core.wmem_default would give
 * every new socket of the host. The benchmark measures what a bigger send
 * buffer does to loss without changing the shared machine's sysctl. Not
 * part of any program fastprom ships.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

static int sndbuf;

/* Read at load time, in nginx's master: nginx gives its workers an
 * environment of their own, without this variable. */
__attribute__((constructor)) static void read_size(void)
{
    const char *want = getenv("FASTPROM_BENCH_SNDBUF");
    /* setsockopt stores twice what it is asked for (room for the kernel's
     * bookkeeping); a socket made under the sysctl gets the value as is. */
    sndbuf = want ? atoi(want) / 2 : 0;
}

__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int (*real)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    int type = 0;
    socklen_t tlen = sizeof type;
    if (sndbuf > 0 && addr && addr->sa_family == AF_UNIX && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
        type == SOCK_DGRAM) {
        /* FORCE passes net.core.wmem_max, as the sysctl's default would. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    return real(fd, addr, len);
}
