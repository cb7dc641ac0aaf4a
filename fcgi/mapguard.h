/*
 * mapguard.h - a mapped file that shrinks under the worker's reads must not
 * kill it. Reading a page of a shared file mapping past the file's current
 * end raises SIGBUS, and anyone who can write the segment can truncate it
 * while the library walks it. The worker registers the mapping of the
 * segment it reads; a SIGBUS on a registered mapping replaces the missing
 * pages with zero pages, so the read completes, and marks the mapping
 * faulted, so whatever was read from it is thrown away and the mapping
 * replaced. Any other SIGBUS kills the worker as it would have without the
 * guard. (mapguard.c says why this design and not another.)
 */
#ifndef FCGI_MAPGUARD_H
#define FCGI_MAPGUARD_H

#include <stddef.h>
#include <sys/types.h>

/* Mappings watched at once: the worker reads one segment, and a second
 * while a replacement is attached. */
#define FCGI_MAPGUARD_REGIONS 4

/* Installs the process's SIGBUS handler. Once, before threads start; 0, or
 * -1 with one line in err. Without it, registering still works but a
 * shrinking file kills the process as before. */
int fcgi_mapguard_install(char *err, size_t errlen);

/*
 * Watches [base, base + len) (a read-only shared mapping of a file). Returns
 * the region's id (>= 0), or -1 when every region is taken. Thread-safe.
 */
int fcgi_mapguard_watch(const void *base, size_t len);

/*
 * Watches this process's mapping of the file dev/ino that is len bytes
 * long, found in /proc/self/maps (the library maps the segment itself and
 * does not say where). Returns the region's id, or -1 with one line in err
 * (no such mapping, /proc unreadable, no free region).
 */
int fcgi_mapguard_watch_file(dev_t dev, ino_t ino, size_t len, char *err, size_t errlen);

/* 1 when a read of region id met a missing page since it was watched (its
 * contents are then partly zeros: nothing read from it is to be trusted);
 * 0 otherwise, and for id -1. */
int fcgi_mapguard_faulted(int id);

/* Stops watching region id (-1: no-op). Call before unmapping it, once no
 * thread reads it any more. */
void fcgi_mapguard_forget(int id);

#endif
