/*
 * fuzz_reader.c - libFuzzer target for the segment reader: whatever bytes a
 * segment holds, a read-only attachment must render (all three formats) and
 * take stats without crashing, reading out of bounds or invoking undefined
 * behaviour, and every failure must be a negative errcode with a message.
 * What renders is UTF-8, and the JSON view parses (jansson).
 *
 * A valid segment holding every kind of record is built once
 * (tests/support/segment_image.h). Each input is a list of patches applied to
 * a copy of it, so the fuzzer spends its time on the fields a reader
 * follows rather than on the header validation a random image never passes:
 *
 *   patch := op:u8 a:u8 b:u8 [data]
 *   op % 4 == 0  field a (of the image's offset/length fields, see the map)
 *                := the next `width` input bytes, little-endian
 *   op % 4 == 1  field a := the offset of record b, plus (op >> 2) % 8
 *   op % 4 == 2  region b: (op >> 2) % 16 + 1 input bytes written at
 *                byte a * 257 + (next input byte) of the region, scaled in
 *   op % 4 == 3  render options for this run: a selects a family-name
 *                filter, b a prefix, the render flags and the format
 *
 * One format is rendered per run (by default the input length picks it):
 * they share the snapshot reader, which is what is under test, and a render
 * costs milliseconds under ASan.
 *
 * The patched image goes to a memfd opened through /proc/self/fd, so runs
 * leave no files behind. FASTPROM_FUZZ_WRITE_SEEDS=<dir> makes the target
 * write a small seed corpus (one seed per op kind and region) and exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../support/segment_image.h"
#include "fastprom.h"
#include "names.h"

static unsigned char *pristine;
static size_t image_size;
static struct image_map map;
static int memfd = -1;
static char memfd_path[64];
static unsigned char *work;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_reader: %s\n", what);
    abort();
}

static void write_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[96];
    snprintf(path, sizeof path, "/dev/shm/fastprom-fuzz-%ld", (long)getpid());
    unlink(path);
    pristine = segment_image_build(path, &image_size);
    unlink(path);
    if (!pristine || image_map_build(&map, pristine, image_size) || !map.nfields || !map.nrecords)
        die("cannot build the seed segment image");
    if ((memfd = memfd_create("fastprom-fuzz", MFD_CLOEXEC)) < 0)
        die("memfd_create failed");
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    if (!(work = malloc(image_size)))
        die("out of memory");
    const char *seeds = getenv("FASTPROM_FUZZ_WRITE_SEEDS");
    if (seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

static void check_rc(int rc, const fastprom_error_t *err)
{
    if (rc && (rc < FASTPROM_ERDONLY || rc > FASTPROM_EINVAL || err->code != rc || !err->text[0]))
        die("a failure without a proper errcode and message");
}

static const char *const filters[] =
    {"http_requests_total", "latency_seconds_bucket", "size_bytes", "build_info", "phase", "in_progress", "nope"};
static const char *const prefixes[] = {NULL, "ns_", "a:"};

static void read_once(int format, const char *name_filter, const char *prefix, unsigned flags)
{
    fastprom_error_t err;
    fastprom_options_t opt = {.path = memfd_path, .flags = FASTPROM_READONLY};
    fastprom_t *fp = fastprom_open(&opt, &err);
    if (!fp) {
        check_rc(err.code, &err);
        return;
    }
    fastprom_render_options_t ropt = {.format = (fastprom_format_t)format, .prefix = prefix, .flags = flags};
    if (name_filter) {
        ropt.names = &name_filter;
        ropt.nnames = 1;
    }
    fastprom_buf_t buf = {0};
    int rc = fastprom_render(fp, &ropt, &buf, &err);
    check_rc(rc, &err);
    if (!rc && buf.len && fp_utf8_invalid_at(buf.data, buf.len) >= 0)
        die("the exposition is not UTF-8");
    if (!rc && format == FASTPROM_FORMAT_JSON) {
        /* jansson reads NUL in string values, not in keys: a state name or
         * info key may hold one (it is UTF-8). */
        json_error_t je;
        json_t *doc = json_loadb(buf.data, buf.len, JSON_ALLOW_NUL, &je);
        if (!doc && json_error_code(&je) != json_error_null_byte_in_key)
            die("the JSON view does not parse");
        json_decref(doc);
    }
    fastprom_buf_free(&buf);
    fastprom_stat_t st;
    check_rc(fastprom_stat(fp, &st, &err), &err);
    fastprom_close(fp);
}

static void put_le(unsigned char *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memcpy(work, pristine, image_size);
    const char *name_filter = NULL, *prefix = NULL;
    unsigned flags = 0;
    int format = (int)(size % 3);
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
        i += 3;
        const struct image_field *f = &map.fields[a % map.nfields];
        switch (op % 4) {
        case 0: {
            uint64_t v = 0;
            for (unsigned k = 0; k < f->width && i < size; k++)
                v |= (uint64_t)data[i++] << (8 * k);
            put_le(work + f->pos, v, f->width);
            break;
        }
        case 1: put_le(work + f->pos, map.records[b % map.nrecords] + (uint64_t)((op >> 2) % 8), f->width); break;
        case 2: {
            size_t start, len;
            image_region(pristine, image_size, b % NREGIONS, &start, &len);
            size_t n = (size_t)((op >> 2) % 16) + 1;
            size_t at = i < size ? data[i++] : 0;
            size_t pos = start + ((size_t)a * 257 + at) * len / (256 * 257);
            for (size_t k = 0; k < n && i < size && pos + k < image_size; k++)
                work[pos + k] = data[i++];
            break;
        }
        default:
            name_filter = a % 8 < sizeof filters / sizeof *filters ? filters[a % 8] : NULL;
            prefix = prefixes[b % 3];
            flags = (b >> 2) & (FASTPROM_RENDER_CREATED | FASTPROM_RENDER_NO_EOF);
            format = (b >> 4) % 3;
            break;
        }
    }
    if (pwrite(memfd, work, image_size, 0) != (ssize_t)image_size || ftruncate(memfd, (off_t)image_size))
        die("cannot write the memfd");
    read_once(format, name_filter, prefix, flags);
    return 0;
}

/* ---- the seed corpus -------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const unsigned char *bytes, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f))
        die("cannot write a seed file");
}

/* Seeds that each reach a different part of the reader: the untouched
 * image, one patch of each kind, each region, a filtered render. */
static void write_seeds(const char *dir)
{
    write_seed(dir, "pristine", (const unsigned char *)"", 0);
    const unsigned char field_zero[] = {0, 7, 0, 0, 0, 0, 0};
    write_seed(dir, "field-zeroed", field_zero, sizeof field_zero);
    const unsigned char field_huge[] = {0, 40, 0, 0xff, 0xff, 0xff, 0x7f};
    write_seed(dir, "field-huge", field_huge, sizeof field_huge);
    const unsigned char link[] = {1, 100, 3, 1 | (1 << 2), 200, 9};
    write_seed(dir, "record-links", link, sizeof link);
    for (int r = 0; r < NREGIONS; r++) {
        unsigned char region[] = {2 | (7 << 2), 128, (unsigned char)r, 0, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
        char name[32];
        snprintf(name, sizeof name, "region-%d", r);
        write_seed(dir, name, region, sizeof region);
    }
    const unsigned char filtered[] = {3, 1, 1 | (FASTPROM_RENDER_CREATED << 2), 0, 12, 0, 0, 0, 0};
    write_seed(dir, "filtered-prefixed", filtered, sizeof filtered);
}
