/*
 * tmp_segment.c - unique /dev/shm paths for test segments, removed at exit
 * by the process that created them (a fork child exiting must not remove
 * its parent's segments).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define MAX_PATHS 64

static struct {
    pid_t owner;
    char path[96];
} paths[MAX_PATHS];
static int npaths;

static void remove_paths(void)
{
    for (int i = 0; i < npaths; i++)
        if (paths[i].owner == getpid())
            unlink(paths[i].path);
}

const char *tmp_segment_path(void)
{
    static unsigned counter;
    ck_assert_int_lt(npaths, MAX_PATHS);
    if (npaths == 0 || paths[0].owner != getpid()) {
        /* First path of this process (or of a fork child that inherited its
         * parent's list): forget the parent's entries. */
        npaths = 0;
        atexit(remove_paths);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char *p = paths[npaths].path;
    snprintf(p, sizeof paths[npaths].path, "/dev/shm/fastprom-test-%ld-%u-%ld", (long)getpid(), counter++,
             (long)ts.tv_nsec);
    ck_assert_int_ne(access(p, F_OK), 0);
    paths[npaths++].owner = getpid();
    return p;
}

fastprom_t *open_tmp_segment(size_t size, const char **path)
{
    fastprom_options_t opt = {.path = tmp_segment_path(), .size = size ? size : FASTPROM_MIN_SIZE};
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_msg(fp != NULL, "cannot open %s: %s", opt.path, err.text);
    if (path)
        *path = opt.path;
    return fp;
}
