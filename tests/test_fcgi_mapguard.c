/*
 * test_fcgi_mapguard.c - the SIGBUS guard of the worker's segment mapping
 * (fcgi/mapguard.c): a read past the end of a watched file that shrank
 * completes with zeros and marks the region faulted; regions are found in
 * /proc/self/maps by device and inode; and a SIGBUS anywhere else still
 * kills the process, as it would without the guard.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mapguard.h"

#define PAGES 8

static int fd = -1;
static long page;
static char path[64];

static void setup(void)
{
    char err[256];
    ck_assert_msg(fcgi_mapguard_install(err, sizeof err) == 0, "%s", err);
    page = sysconf(_SC_PAGESIZE);
    strcpy(path, "/tmp/fastprom-mapguard-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    char *bytes = malloc((size_t)page * PAGES);
    memset(bytes, 0x5a, (size_t)page * PAGES);
    ck_assert_int_eq(pwrite(fd, bytes, (size_t)page * PAGES, 0), page * PAGES);
    free(bytes);
}

static void teardown(void)
{
    close(fd);
}

static const volatile unsigned char *map_file(void)
{
    void *p = mmap(NULL, (size_t)page * PAGES, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

START_TEST(a_read_past_a_shrunk_end_reads_zeros_and_is_flagged)
{
    const volatile unsigned char *m = map_file();
    int id = fcgi_mapguard_watch((const void *)m, (size_t)page * PAGES);
    ck_assert_int_ge(id, 0);
    ck_assert_int_eq(m[5 * page], 0x5a);
    ck_assert_int_eq(fcgi_mapguard_faulted(id), 0);
    ck_assert_int_eq(ftruncate(fd, 2 * page), 0);
    ck_assert_int_eq(m[page], 0x5a); /* still inside the file */
    ck_assert_int_eq(fcgi_mapguard_faulted(id), 0);
    ck_assert_int_eq(m[5 * page + 7], 0); /* past its end: was SIGBUS */
    ck_assert_int_eq(m[7 * page], 0);     /* the rest of the region went with it */
    ck_assert_int_eq(fcgi_mapguard_faulted(id), 1);
    ck_assert_int_eq(m[0], 0x5a); /* before the fault: the file's bytes */
    fcgi_mapguard_forget(id);
    ck_assert_int_eq(fcgi_mapguard_faulted(id), 1); /* forgetting does not unsay it */
    munmap((void *)m, (size_t)page * PAGES);
    ck_assert_int_eq(fcgi_mapguard_faulted(-1), 0);
}
END_TEST

/* Finds m (the file's mapping) by the file's identity and checks that
 * truncating the file under it is caught. */
static void found_and_guarded(const volatile unsigned char *m, struct stat *st)
{
    char err[256];
    ck_assert_int_eq(fstat(fd, st), 0);
    int id = fcgi_mapguard_watch_file(st->st_dev, st->st_ino, (size_t)st->st_size, err, sizeof err);
    ck_assert_msg(id >= 0, "%s", err);
    ck_assert_int_eq(ftruncate(fd, page), 0);
    ck_assert_int_eq(m[3 * page], 0);
    ck_assert_int_eq(fcgi_mapguard_faulted(id), 1);
    fcgi_mapguard_forget(id);
}

START_TEST(the_mapping_of_a_file_is_found_by_device_and_inode)
{
    const volatile unsigned char *m = map_file();
    struct stat st;
    char err[256];
    found_and_guarded(m, &st);
    munmap((void *)m, (size_t)page * PAGES);
    /* a length that matches no mapping is an error naming the file */
    ck_assert_int_lt(fcgi_mapguard_watch_file(st.st_dev, st.st_ino, (size_t)page * 3, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "no mapping of the segment"));
}
END_TEST

/* Regression: a worker out of descriptors (accept at EMFILE) attached the
 * segment unguarded, as finding the mapping opened /proc/self/maps. The
 * mapping also sits behind hundreds of others, past the first read's chunk. */
START_TEST(the_mapping_is_found_with_no_descriptor_left)
{
    void *others[400];
    for (int i = 0; i < 400; i++) { /* distinct protections keep them from merging */
        others[i] =
            mmap(NULL, (size_t)page, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(others[i], MAP_FAILED);
    }
    const volatile unsigned char *m = map_file();
    struct rlimit lim = {64, 64};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int spare;
    while ((spare = open("/dev/null", O_RDONLY)) >= 0)
        ;
    ck_assert_int_eq(errno, EMFILE);
    struct stat st;
    found_and_guarded(m, &st);
}
END_TEST

START_TEST(regions_run_out_and_come_back)
{
    int ids[FCGI_MAPGUARD_REGIONS];
    static char area[4096];
    for (int i = 0; i < FCGI_MAPGUARD_REGIONS; i++)
        ck_assert_int_ge(ids[i] = fcgi_mapguard_watch(area, sizeof area), 0);
    ck_assert_int_eq(fcgi_mapguard_watch(area, sizeof area), -1);
    fcgi_mapguard_forget(ids[1]);
    ck_assert_int_eq(fcgi_mapguard_watch(area, sizeof area), ids[1]);
    for (int i = 0; i < FCGI_MAPGUARD_REGIONS; i++)
        fcgi_mapguard_forget(ids[i]);
}
END_TEST

/* Runs fn in a child; returns the signal that ended it, 0 if it exited. */
static int child_signal(void (*fn)(void))
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void read_unwatched_past_the_end(void)
{
    const volatile unsigned char *m = map_file();
    if (ftruncate(fd, page) == 0)
        (void)m[4 * page];
}

static void read_a_forgotten_region(void)
{
    const volatile unsigned char *m = map_file();
    fcgi_mapguard_forget(fcgi_mapguard_watch((const void *)m, (size_t)page * PAGES));
    if (ftruncate(fd, page) == 0)
        (void)m[4 * page];
}

static void send_sigbus(void)
{
    kill(getpid(), SIGBUS);
}

START_TEST(other_sigbus_still_kill)
{
    ck_assert_int_eq(child_signal(read_unwatched_past_the_end), SIGBUS);
    ck_assert_int_eq(ftruncate(fd, page * PAGES), 0);
    ck_assert_int_eq(child_signal(read_a_forgotten_region), SIGBUS);
    ck_assert_int_eq(child_signal(send_sigbus), SIGBUS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fcgi_mapguard");
    TCase *tc = tcase_create("mapguard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_read_past_a_shrunk_end_reads_zeros_and_is_flagged);
    tcase_add_test(tc, the_mapping_of_a_file_is_found_by_device_and_inode);
    tcase_add_test(tc, the_mapping_is_found_with_no_descriptor_left);
    tcase_add_test(tc, regions_run_out_and_come_back);
    tcase_add_test(tc, other_sigbus_still_kill);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
