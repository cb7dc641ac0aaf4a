/*
 * tmp_segment.c - unique /dev/shm paths for test segments, removed at exit
 * by the process that created them (a fork child exiting must not remove
 * its parent's segments). What a crashed test process left behind is
 * removed by the next one.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
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

/* Files named after test processes that no longer exist. */
static void remove_orphans(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        long pid;
        if (sscanf(e->d_name, "fastprom-test-%ld-", &pid) != 1 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            char path[300];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    }
    closedir(d);
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
        remove_orphans();
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
