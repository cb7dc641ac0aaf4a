/*
 * test_reader_robustness.c - a reader maps the segment read-only and must
 * survive any bytes in it: fastprom.h promises "arbitrary bytes give
 * ECORRUPT, not a crash". A valid segment holding every kind of record is
 * built, copied, and then damaged in many deterministic ways (random bytes
 * in every region, chosen values in every offset and length field, records
 * cross-linked, the file truncated); after each, a read-only attachment
 * renders (the three formats take turns) and takes stats. Every call must
 * return 0 or a negative errcode with a one-line message, what it renders
 * must be UTF-8 (JSON: parseable), and under `make SANITIZE=1` ASan/UBSan
 * must stay silent. FASTPROM_ROBUST_TRACE=1 prints each mutation first.
 */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "segment_image.h"
#include "support.h"
#include "testpoint.h"

static unsigned char *pristine;
static size_t size;
static struct image_map map;
static const char *victim; /* the damaged copy's path */
static int victim_fd;
static int trace;
static char what[160]; /* the current mutation, for messages */

static uint64_t rng;
static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t below(uint64_t n)
{
    return (uint32_t)(next_u64() % n);
}

static void setup(void)
{
    trace = getenv("FASTPROM_ROBUST_TRACE") != NULL;
    pristine = segment_image_build(tmp_segment_path(), &size);
    ck_assert_msg(pristine != NULL, "cannot build the segment image");
    ck_assert_int_eq(image_map_build(&map, pristine, size), 0);
    ck_assert_uint_gt(map.nfields, 200);
    victim = tmp_segment_path();
    victim_fd = open(victim, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(victim_fd, 0);
    ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
}

static void teardown(void)
{
    close(victim_fd);
    free(pristine);
}

/* ---- reading a damaged copy -------------------------------------------------- */

static void check_rc(int rc, const fastprom_error_t *err, const char *call)
{
    if (rc == 0)
        return;
    if (rc < FASTPROM_ERDONLY || rc > FASTPROM_EINVAL || err->code != rc || !err->text[0] || strchr(err->text, '\n'))
        ck_abort_msg("%s after %s: rc %d, err %d \"%s\"", call, what, rc, err->code, err->text);
}

static void check_output(fastprom_format_t format, const fastprom_buf_t *buf)
{
    if (!buf->len)
        return;
    if (format == FASTPROM_FORMAT_JSON) {
        json_error_t jerr;
        json_t *j = json_loadb(buf->data, buf->len, JSON_ALLOW_NUL, &jerr);
        /* jansson cannot read "\u0000" in an object key, which is valid
         * JSON: a damaged state name may hold NUL and become such a key. */
        if (!j && !strstr(jerr.text, "NUL byte in object key"))
            ck_abort_msg("JSON after %s does not parse: %s", what, jerr.text);
        json_decref(j);
    } else if (fp_utf8_invalid_at(buf->data, buf->len) >= 0) {
        ck_abort_msg("exposition after %s is not UTF-8", what);
    }
}

/* One scrape of the victim file as an exporter does it: attach, render,
 * stat. The formats take turns (they share one snapshot reader, and a
 * render costs ~5 ms under ASan); the pristine test renders all three.
 * Returns how many calls succeeded (0..2), -1 if the attach was refused. */
static int read_victim_formats(int first, int nformats)
{
    if (trace)
        fprintf(stderr, "%s\n", what);
    fastprom_error_t err;
    fastprom_options_t opt = {.path = victim, .flags = FASTPROM_READONLY};
    fastprom_t *fp = fastprom_open(&opt, &err);
    if (!fp) {
        check_rc(err.code, &err, "fastprom_open");
        return -1;
    }
    int ok = 0;
    for (int k = 0; k < nformats; k++) {
        int format = (first + k) % 3;
        fastprom_render_options_t ropt = {.format = (fastprom_format_t)format,
                                          .flags = format == 1 ? FASTPROM_RENDER_CREATED : 0};
        fastprom_buf_t buf = {0};
        memset(&err, 0, sizeof err);
        int rc = fastprom_render(fp, &ropt, &buf, &err);
        check_rc(rc, &err, "fastprom_render");
        if (!rc)
            check_output((fastprom_format_t)format, &buf);
        ok += rc == 0;
        fastprom_buf_free(&buf);
    }
    fastprom_stat_t st;
    int rc = fastprom_stat(fp, &st, &err);
    check_rc(rc, &err, "fastprom_stat");
    ok += rc == 0;
    fastprom_close(fp);
    return ok;
}

static int read_victim(void)
{
    static int turn;
    return read_victim_formats(turn++ % 3, 1);
}

/* Writes n bytes at pos, reads the victim, restores the bytes. */
static int read_with_patch(size_t pos, const void *bytes, size_t n)
{
    ck_assert_uint_le(pos + n, size);
    ck_assert_int_eq(pwrite(victim_fd, bytes, n, (off_t)pos), (ssize_t)n);
    int ok = read_victim();
    ck_assert_int_eq(pwrite(victim_fd, pristine + pos, n, (off_t)pos), (ssize_t)n);
    return ok;
}

static void write_value(unsigned char *out, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

/* ---- the pristine image --------------------------------------------------------- */

START_TEST(pristine_copy_reads_completely)
{
    snprintf(what, sizeof what, "no change");
    ck_assert_int_eq(read_victim_formats(0, 3), 4);
    fastprom_options_t opt = {.path = victim, .flags = FASTPROM_READONLY};
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(fp);
    char *om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    /* both writers' values, exemplars, every type */
    ck_assert_ptr_nonnull(strstr(om, "http_requests_total{method=\"GET\",code=\"200\"} 6 # {"));
    ck_assert_ptr_nonnull(strstr(om, "latency_seconds_bucket{route=\"/api\",le=\"+Inf\"} 3 # {trace_id="));
    ck_assert_ptr_nonnull(strstr(om, "wide_count 30\n"));
    ck_assert_ptr_nonnull(strstr(om, "size_bytes_count 50\n"));
    ck_assert_ptr_nonnull(strstr(om, "jobs_count 2\n"));
    ck_assert_ptr_nonnull(strstr(om, "build_info{service=\"api\",version=\"1.1\",commit=\"abc\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(om, "phase{phase=\"ready\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(om, "temp 21.5\n"));
    free(om);
    fastprom_close(fp);
}
END_TEST

/* ---- (a) random bytes and words in every region ------------------------------------- */

static const char *const region_names[NREGIONS] = {"header",     "slots",    "family hash", "series hash",
                                                   "series ids", "metadata", "blocks",      "anywhere"};

static void random_damage(uint64_t seed, int iterations)
{
    rng = seed;
    int readable = 0;
    for (int it = 0; it < iterations; it++) {
        int region = it % NREGIONS;
        size_t start, len;
        image_region(pristine, size, region, &start, &len);
        unsigned char patch[8];
        size_t n, pos;
        switch (below(4)) {
        case 0: /* flip some bits of one byte */
            n = 1, pos = start + below(len);
            patch[0] = pristine[pos] ^ (unsigned char)(1 + below(255));
            break;
        case 1: /* a random aligned word */
            n = 4, pos = (start + below(len)) & ~(size_t)3;
            write_value(patch, next_u64(), 4);
            break;
        case 2: /* an aligned word nudged by a little */
            n = 4, pos = (start + below(len)) & ~(size_t)3;
            write_value(patch, image_u32(pristine, pos) + (uint32_t)(below(33) - 16), 4);
            break;
        default: /* eight random bytes anywhere in the region */
            n = 8, pos = start + below(len);
            write_value(patch, next_u64(), 8);
            break;
        }
        if (pos + n > size)
            pos = size - n;
        snprintf(what, sizeof what, "random %zu bytes at %zu (%s), seed %llu iteration %d", n, pos,
                 region_names[region], (unsigned long long)seed, it);
        readable += read_with_patch(pos, patch, n) > 0;
    }
    /* Most single changes leave a readable segment: damage is reported, not
     * everything refused wholesale. */
    ck_assert_int_gt(readable, iterations / 4);
}

START_TEST(random_bytes_in_every_region)
{
    random_damage(1, 1000);
}
END_TEST

/* Several changes at once, so damage compounds. */
START_TEST(random_bytes_several_at_once)
{
    rng = 7;
    for (int it = 0; it < 200; it++) {
        for (int k = 0; k < 8; k++) {
            size_t start, len;
            image_region(pristine, size, (int)below(NREGIONS - 1), &start, &len);
            size_t pos = start + below(len);
            unsigned char b = (unsigned char)next_u64();
            ck_assert_int_eq(pwrite(victim_fd, &b, 1, (off_t)pos), 1);
        }
        snprintf(what, sizeof what, "8 random bytes, seed 7 iteration %d", it);
        read_victim();
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
}
END_TEST

/* ---- (b) chosen values in every offset and length field ------------------------------- */

/* Values worth trying in a field: edges of the file, other records (so
 * links cross between families, series and blocks), the field itself, and
 * the original nudged. aligned selects multiples of 8 (and record offsets),
 * else values that are not multiples of 4. */
static uint64_t candidate(const struct image_field *f, int aligned)
{
    uint64_t orig = 0;
    memcpy(&orig, pristine + f->pos, f->width);
    if (!aligned) {
        switch (below(4)) {
        case 0: return map.records[below(map.nrecords)] + 1 + below(3);
        case 1: return orig + 1 + 4 * below(8);
        case 2: return (below((uint32_t)size) | 1u);
        default: return f->pos + 2;
        }
    }
    static const uint64_t edges[] = {0,
                                     8,
                                     16,
                                     4096,
                                     FASTPROM_MIN_SIZE - 64,
                                     FASTPROM_MIN_SIZE - 16,
                                     FASTPROM_MIN_SIZE - 8,
                                     FASTPROM_MIN_SIZE,
                                     FASTPROM_MIN_SIZE + 8,
                                     0x7ffffff8u,
                                     0xfffffff8u,
                                     0xffffffffu};
    switch (below(6)) {
    case 0: return edges[below(sizeof edges / sizeof *edges)];
    case 1:
    case 2: return map.records[below(map.nrecords)];
    case 3: return (below((uint32_t)size)) & ~7u;
    case 4: return orig + 8 * (below(9) + 1) - 40;
    default: return f->pos & ~7u;
    }
}

static void offsets_into_fields(uint64_t seed, int aligned, int per_field)
{
    rng = seed;
    for (size_t i = 0; i < map.nfields; i++) {
        const struct image_field *f = &map.fields[i];
        for (int k = 0; k < per_field; k++) {
            uint64_t v = candidate(f, aligned);
            if (f->width == 2)
                v &= 0xffff;
            unsigned char patch[8];
            write_value(patch, v, f->width);
            snprintf(what, sizeof what, "field %zu (%u bytes at %u) = %llu", i, f->width, f->pos,
                     (unsigned long long)v);
            read_with_patch(f->pos, patch, f->width);
        }
    }
}

START_TEST(aligned_offsets_into_every_offset_field)
{
    offsets_into_fields(11, 1, 2);
}
END_TEST

START_TEST(unaligned_offsets_into_every_offset_field)
{
    offsets_into_fields(13, 0, 1);
}
END_TEST

/* Lengths and counts: zero, one less, one more, huge (two of those per
 * field, chosen at random). */
START_TEST(lengths_and_counts_off_by_one_and_huge)
{
    static const int64_t deltas[] = {0, -1, 1, 64, 1 << 20};
    rng = 17;
    for (size_t i = 0; i < map.nfields; i++) {
        const struct image_field *f = &map.fields[i];
        uint64_t orig = 0;
        memcpy(&orig, pristine + f->pos, f->width);
        for (int k = 0; k < 2; k++) {
            int64_t d = deltas[below(sizeof deltas / sizeof *deltas)];
            uint64_t v = d ? orig + (uint64_t)d : 0;
            unsigned char patch[8];
            write_value(patch, v, f->width);
            snprintf(what, sizeof what, "field %zu (%u bytes at %u) = %llu (was %llu)", i, f->width, f->pos,
                     (unsigned long long)v, (unsigned long long)orig);
            read_with_patch(f->pos, patch, f->width);
        }
    }
}
END_TEST

/* ---- cross-linked records ---------------------------------------------------------- */

static uint32_t family_offset(const char *name)
{
    const struct fp_header *h = (const struct fp_header *)pristine;
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        uint32_t off = image_u32(pristine, h->family_hash_off + 4 * i);
        if (!off)
            continue;
        const struct fp_family *f = (const struct fp_family *)(pristine + off);
        if (f->name.len == strlen(name) && !memcmp(pristine + f->name.off, name, f->name.len))
            return off;
    }
    ck_abort_msg("no family %s in the image", name);
    return 0;
}

static uint32_t first_series(uint32_t family)
{
    return image_u32(pristine, family + offsetof(struct fp_family, series_head));
}

/* A family's series list leads into another family's series (whose values
 * the reader merged under that other family's type). Each type's list is
 * pointed at each other type's series. */
START_TEST(series_list_leading_into_another_family)
{
    const char *names[] = {"http_requests", "latency_seconds", "wide", "size_bytes", "jobs",
                           "in_progress",   "rss_bytes",       "temp", "build",      "phase"};
    size_t n = sizeof names / sizeof *names;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            if (a == b)
                continue;
            uint32_t fa = family_offset(names[a]), sb = first_series(family_offset(names[b]));
            unsigned char patch[4];
            write_value(patch, sb, 4);
            snprintf(what, sizeof what, "series list of %s leading to a series of %s", names[a], names[b]);
            read_with_patch(fa + offsetof(struct fp_family, series_head), patch, 4);
            /* the same through a series record's family field */
            write_value(patch, fa, 4);
            snprintf(what, sizeof what, "a series of %s claiming family %s", names[b], names[a]);
            read_with_patch(sb + offsetof(struct fp_series, family), patch, 4);
        }
}
END_TEST

/* A label blob cut short by its series' labels_len: after the first value
 * (a well-formed blob with a value missing) and inside the second value. The
 * reader refuses both, each with its own reason. */
START_TEST(label_values_missing_or_cut_short)
{
    uint32_t sb = first_series(family_offset("http_requests"));
    const struct fp_series *rec = (const struct fp_series *)(pristine + sb);
    while (rec->state != FP_SERIES_LIVE) /* the newest one is removed */
        rec = (const struct fp_series *)(pristine + (sb = rec->next));
    ck_assert_uint_eq(((const struct fp_family *)(pristine + rec->family))->nlabels, 2);
    uint32_t first = 2u + (rec->labels[0] | (uint32_t)rec->labels[1] << 8);
    const struct {
        uint32_t len;
        const char *reason;
    } cuts[] = {{first, "fewer label values than its family has labels"}, {first + 1, "truncated"}};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        unsigned char patch[4];
        write_value(patch, cuts[i].len, 4);
        ck_assert_int_eq(pwrite(victim_fd, patch, 4, (off_t)(sb + offsetof(struct fp_series, labels_len))), 4);
        fastprom_options_t opt = {.path = victim, .flags = FASTPROM_READONLY};
        fastprom_error_t err;
        fastprom_t *fp = fastprom_open(&opt, &err);
        ck_assert_ptr_nonnull(fp);
        fastprom_render_options_t ropt = {.format = FASTPROM_FORMAT_TEXT};
        fastprom_buf_t buf = {0};
        ck_assert_int_eq(fastprom_render(fp, &ropt, &buf, &err), FASTPROM_ECORRUPT);
        ck_assert_msg(strstr(err.text, cuts[i].reason), "labels_len %u: %s", cuts[i].len, err.text);
        fastprom_buf_free(&buf);
        fastprom_close(fp);
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
}
END_TEST

/* ---- (c) truncation ---------------------------------------------------------------- */

START_TEST(truncated_file_is_refused_at_attach)
{
    static const size_t sizes[] = {0, 1, 8, 4095, 4096, 4097, 65536, FASTPROM_MIN_SIZE - 4096, FASTPROM_MIN_SIZE - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        ck_assert_int_eq(ftruncate(victim_fd, (off_t)sizes[i]), 0);
        snprintf(what, sizeof what, "file truncated to %zu bytes", sizes[i]);
        ck_assert_int_eq(read_victim(), -1);
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
    ck_assert_int_eq(ftruncate(victim_fd, (off_t)size + 4096), 0);
    snprintf(what, sizeof what, "file grown by 4096 bytes");
    ck_assert_int_eq(read_victim(), -1);
}
END_TEST

/* Shrunk while a reader has it mapped: touching the lost pages would be
 * SIGBUS, so every call must notice first. */
START_TEST(file_truncated_under_an_attached_reader)
{
    static const size_t sizes[] = {0, 4096, 100000, FASTPROM_MIN_SIZE - 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        fastprom_options_t opt = {.path = victim, .flags = FASTPROM_READONLY};
        fastprom_error_t err;
        fastprom_t *fp = fastprom_open(&opt, &err);
        ck_assert_ptr_nonnull(fp);
        ck_assert_int_eq(ftruncate(victim_fd, (off_t)sizes[i]), 0);
        snprintf(what, sizeof what, "file truncated to %zu bytes under a reader", sizes[i]);
        for (int format = 0; format < 3; format++) {
            fastprom_render_options_t ropt = {.format = (fastprom_format_t)format};
            fastprom_buf_t buf = {0};
            int rc = fastprom_render(fp, &ropt, &buf, &err);
            ck_assert_int_eq(rc, FASTPROM_ECORRUPT);
            check_rc(rc, &err, "fastprom_render");
            fastprom_buf_free(&buf);
        }
        fastprom_stat_t st;
        int rc = fastprom_stat(fp, &st, &err);
        ck_assert_int_eq(rc, FASTPROM_ECORRUPT);
        check_rc(rc, &err, "fastprom_stat");
        ck_assert_int_eq(fastprom_check(fp, &err), FASTPROM_ECORRUPT);
        fastprom_close(fp);
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
}
END_TEST

/* Truncated after the open's fstat, before anything read the header: a
 * load from the mapping there would be SIGBUS outside any guard the caller
 * can set up (the worker learns where the mapping is only once open
 * returns). The open must not touch the mapping; the next call sees the
 * truncation and says so. */
static off_t truncate_at_attach;

static void truncate_when_mapped(int point)
{
    if (point == FP_POINT_ATTACH_MAPPED)
        ck_assert_int_eq(ftruncate(victim_fd, truncate_at_attach), 0);
}

START_TEST(file_truncated_while_being_attached)
{
    static const off_t sizes[] = {0, 100, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        truncate_at_attach = sizes[i];
        fp_test_hook = truncate_when_mapped;
        fastprom_options_t opt = {.path = victim, .flags = FASTPROM_READONLY};
        fastprom_error_t err;
        fastprom_t *fp = fastprom_open(&opt, &err);
        fp_test_hook = NULL;
        ck_assert_msg(fp != NULL, "%s", err.text);
        ck_assert_int_eq(fastprom_check(fp, &err), FASTPROM_ECORRUPT);
        ck_assert_ptr_nonnull(strstr(err.text, "truncated"));
        fastprom_render_options_t ropt = {.format = FASTPROM_FORMAT_TEXT};
        fastprom_buf_t buf = {0};
        ck_assert_int_eq(fastprom_render(fp, &ropt, &buf, &err), FASTPROM_ECORRUPT);
        fastprom_buf_free(&buf);
        fastprom_close(fp);
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
}
END_TEST

/* Zero pages where the tail of the file was: truncated and regrown. */
START_TEST(zeroed_tail_pages)
{
    for (size_t keep = 4096; keep < size; keep += 12288) {
        ck_assert_int_eq(ftruncate(victim_fd, (off_t)keep), 0);
        ck_assert_int_eq(ftruncate(victim_fd, (off_t)size), 0);
        snprintf(what, sizeof what, "bytes from %zu on zeroed", keep);
        read_victim();
        ck_assert_int_eq(pwrite(victim_fd, pristine, size, 0), (ssize_t)size);
    }
}
END_TEST

static Suite *robustness_suite(void)
{
    Suite *s = suite_create("reader_robustness");
    TCase *tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pristine_copy_reads_completely);
    tcase_add_test(tc, random_bytes_in_every_region);
    tcase_add_test(tc, random_bytes_several_at_once);
    tcase_add_test(tc, aligned_offsets_into_every_offset_field);
    tcase_add_test(tc, unaligned_offsets_into_every_offset_field);
    tcase_add_test(tc, lengths_and_counts_off_by_one_and_huge);
    tcase_add_test(tc, series_list_leading_into_another_family);
    tcase_add_test(tc, label_values_missing_or_cut_short);
    tcase_add_test(tc, truncated_file_is_refused_at_attach);
    tcase_add_test(tc, file_truncated_under_an_attached_reader);
    tcase_add_test(tc, file_truncated_while_being_attached);
    tcase_add_test(tc, zeroed_tail_pages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(robustness_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
