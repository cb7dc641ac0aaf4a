/*
 * procstat.c - reads /proc/self/stat, /proc/stat (boot time) and
 * /proc/self/fd for the process_* metrics (procstat.h).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procstat.h"

static int read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* The boot time never changes: /proc/stat is read until it once works,
 * not on every scrape. */
static double boot_time(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static double seconds;
    pthread_mutex_lock(&lock);
    FILE *f = seconds == 0 ? fopen("/proc/stat", "re") : NULL;
    if (f) { /* line by line: the "intr" line before "btime" can be huge */
        char *line = NULL;
        size_t cap = 0;
        while (seconds == 0 && getline(&line, &cap, f) > 0)
            if (strncmp(line, "btime ", 6) == 0)
                seconds = strtod(line + 6, NULL);
        free(line);
        fclose(f);
    }
    double result = seconds;
    pthread_mutex_unlock(&lock);
    return result;
}

/* -1 without a descriptor to count with (EMFILE): reading 0 then would
 * say the worker holds none just when it has run out. */
static double count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    double n = 0;
    for (struct dirent *d; (d = readdir(dir)) != NULL;)
        if (d->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1; /* the directory stream's own descriptor */
}

int fcgi_procstat_read(fcgi_procstat_t *ps)
{
    char buf[2048];
    memset(ps, 0, sizeof *ps);
    if (read_file("/proc/self/stat", buf, sizeof buf) != 0)
        return -1;
    /* The command name may hold spaces and parentheses: fields are counted
     * from the last ')' on, where field 3 (state) starts. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long field[25] = {0};
    p++;
    for (int i = 3; i <= 24 && *p; i++) {
        while (*p == ' ')
            p++;
        field[i] = strtoull(p, NULL, 10);
        p += strcspn(p, " ");
    }
    double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE), boot = boot_time();
    if (boot == 0)
        return -1;
    ps->cpu_seconds = (double)(field[14] + field[15]) / ticks;
    ps->start_time_seconds = boot + (double)field[22] / ticks;
    ps->virtual_bytes = (double)field[23];
    ps->resident_bytes = (double)field[24] * page;
    ps->open_fds = count_open_fds();
    if (ps->open_fds < 0) {
        memset(ps, 0, sizeof *ps);
        return -1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        ps->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (double)rl.rlim_cur;
    return 0;
}
