/*
 * mapguard.c - surviving a segment truncated under the worker's reads
 * (mapguard.h).
 *
 * The library maps the segment and follows offsets in it; it checks the
 * file's size when asked (fastprom_check) but cannot check it before every
 * load, and a page past the new end of the file raises SIGBUS in whichever
 * thread touches it. The library installs no signal handlers, so the worker
 * does. Designs weighed:
 *  - siglongjmp out of the render from the handler: the render is left
 *    halfway. The library's snapshot holds an arena taken from the handle,
 *    references on cached series orders and temporary blocks of the merge;
 *    all leak at every jump (a file flapping every 2 ms makes that a leak
 *    per scrape), and any lock the library takes now or later while reading
 *    would stay held. Safe only if the library were written for it.
 *  - rendering from a private copy read with pread: no fault can happen,
 *    but the copy is taken in address order, not in the order the reader's
 *    protocol reads (a cell, then the counter that says it was not being
 *    moved), so a fold running during the copy could be counted twice or
 *    not at all; and it costs a copy of the used part of the segment per
 *    scrape.
 *  - replacing the missing pages (this file): the handler maps anonymous
 *    zero pages over the faulting page and the rest of the watched mapping
 *    (mmap MAP_FIXED; on Linux a plain system call that takes no user-space
 *    lock, so usable in a handler), marks the region faulted and returns;
 *    the load is retried and reads zeros. The library sees what it sees in
 *    any corrupt segment (it is fuzzed against arbitrary bytes), finishes
 *    normally, frees what it took and releases what it locked. The caller
 *    then finds the region faulted and discards the result: the worker
 *    answers 503 and attaches the segment anew. The flag is set before the
 *    zero pages exist, so a thread that read a zero page sees it when it
 *    looks afterwards.
 * A SIGBUS outside the watched mappings (a bug, a kill -BUS) is not the
 * worker's to survive: the handler restores the default action and the
 * fault repeats (or the signal is raised again) with its real address, as
 * if no handler were installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mapguard.h"

typedef struct region {
    atomic_int taken;
    atomic_uintptr_t start;
    atomic_uintptr_t end; /* 0: not watching (yet) */
    atomic_int faulted;
} region_t;

static region_t regions[FCGI_MAPGUARD_REGIONS];
static uintptr_t page_size = 4096;
/* /proc/self/maps, opened by install: a worker out of descriptors (EMFILE
 * under a flood of connections) must still find a new mapping to guard. */
static atomic_int self_maps = -1;

/* Zero pages from the faulting page to the end of the region: one signal
 * per shrink rather than one per page read. */
static int patch(region_t *r, uintptr_t addr)
{
    uintptr_t end = atomic_load(&r->end);
    if (addr < atomic_load(&r->start) || addr >= end)
        return -1;
    atomic_store(&r->faulted, 1);
    uintptr_t page = addr & ~(page_size - 1);
    void *p = mmap((void *)page, end - page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return p == MAP_FAILED ? -1 : 0;
}

static void on_sigbus(int sig, siginfo_t *si, void *context)
{
    (void)context;
    int saved = errno;
    if (si->si_code > 0) /* raised by a fault, not sent */
        for (int i = 0; i < FCGI_MAPGUARD_REGIONS; i++)
            if (patch(&regions[i], (uintptr_t)si->si_addr) == 0) {
                errno = saved;
                return; /* the load is retried on the zero page */
            }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig); /* pending until the handler returns, then fatal */
    errno = saved;
}

int fcgi_mapguard_install(char *err, size_t errlen)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (uintptr_t)ps;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        snprintf(err, errlen, "cannot install the SIGBUS handler that guards the segment mapping: %s", strerror(errno));
        return -1;
    }
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    int none = -1;
    if (fd >= 0 && !atomic_compare_exchange_strong(&self_maps, &none, fd))
        close(fd); /* installed twice: one descriptor is enough */
    return 0;      /* without /proc, watch_file says so when it is needed */
}

int fcgi_mapguard_watch(const void *base, size_t len)
{
    for (int i = 0; i < FCGI_MAPGUARD_REGIONS; i++) {
        region_t *r = &regions[i];
        int free_slot = 0;
        if (!atomic_compare_exchange_strong(&r->taken, &free_slot, 1))
            continue;
        uintptr_t start = (uintptr_t)base;
        atomic_store(&r->faulted, 0);
        atomic_store(&r->start, start);
        atomic_store(&r->end, start + ((len + page_size - 1) & ~(page_size - 1))); /* watching from here */
        return i;
    }
    return -1;
}

/* Start of the line's mapping when it maps the whole file (dev, ino) from
 * offset 0 over want bytes; 0 otherwise. */
static uintptr_t mapping_of(const char *line, dev_t dev, ino_t ino, size_t want)
{
    uintptr_t start, end;
    unsigned long long offset, inode;
    unsigned maj, min;
    char perms[8];
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu", &start, &end, perms, &offset, &maj, &min,
               &inode) == 7 &&
        maj == major(dev) && min == minor(dev) && inode == (unsigned long long)ino && offset == 0 &&
        end - start == want)
        return start;
    return 0;
}

/* Scans /proc/self/maps read from fd at offset 0 (the kernel regenerates it
 * for each read from 0). 0 when not found; -1 with errno on a read error. */
static int find_mapping(int fd, dev_t dev, ino_t ino, size_t want, uintptr_t *found)
{
    char buf[8192];
    size_t have = 0;
    off_t pos = 0;
    *found = 0;
    for (;;) {
        ssize_t n = pread(fd, buf + have, sizeof buf - 1 - have, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        pos += n;
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) || (n == 0 && *line)) {
            if (nl)
                *nl = '\0';
            if ((*found = mapping_of(line, dev, ino, want)))
                return 0;
            line = nl ? nl + 1 : buf + have;
        }
        if (n == 0)
            return 0;
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0; /* a line longer than the buffer (a long path): not a match worth its tail */
    }
}

int fcgi_mapguard_watch_file(dev_t dev, ino_t ino, size_t len, char *err, size_t errlen)
{
    int fd = atomic_load(&self_maps);
    int own = fd < 0;
    if (own && (fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot read /proc/self/maps to find the segment's mapping: %s", strerror(errno));
        return -1;
    }
    uintptr_t found;
    int rc = find_mapping(fd, dev, ino, (len + page_size - 1) & ~(page_size - 1), &found);
    int read_errno = errno;
    if (own)
        close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read /proc/self/maps to find the segment's mapping: %s", strerror(read_errno));
        return -1;
    }
    if (!found) {
        snprintf(err, errlen, "no mapping of the segment (device %u:%u, inode %llu, %zu bytes) in /proc/self/maps",
                 major(dev), minor(dev), (unsigned long long)ino, len);
        return -1;
    }
    int id = fcgi_mapguard_watch((const void *)found, len);
    if (id < 0)
        snprintf(err, errlen, "all %d guarded mapping regions are in use", FCGI_MAPGUARD_REGIONS);
    return id;
}

int fcgi_mapguard_faulted(int id)
{
    return id >= 0 && id < FCGI_MAPGUARD_REGIONS && atomic_load(&regions[id].faulted);
}

void fcgi_mapguard_forget(int id)
{
    if (id < 0 || id >= FCGI_MAPGUARD_REGIONS)
        return;
    region_t *r = &regions[id];
    atomic_store(&r->end, 0); /* the handler stops matching it first */
    atomic_store(&r->start, 0);
    atomic_store(&r->taken, 0);
}
