/*
 * test_names.c - the grammar of metric and label names, the UTF-8 validator
 * that guards every label value (checked exhaustively against the
 * well-formed byte sequences of Unicode table 3-7), and the encoding of
 * label values inside the segment.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "names.h"

static int is_alpha_(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

#define METRIC(s) fp_valid_metric_name(s, strlen(s))
#define LABEL(s) fp_valid_label_name(s, strlen(s))

START_TEST(metric_names_accept_the_prometheus_grammar)
{
    const char *good[] =
        {"a", "_", ":", "A", "a:b", ":a", "a0", "_9", "http_requests_total", "ns:sub:metric_9", "ABCxyz_0123456789:"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(METRIC(good[i]), "\"%s\" should be a valid metric name", good[i]);
    const char *bad[] = {"", "0", "9a", "a-b", "a b", "a.b", "a/b", "é", "a\xc3\xa9", " a", "a ", "a\n", "{a}", "a=b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!METRIC(bad[i]), "\"%s\" should not be a valid metric name", bad[i]);
}
END_TEST

START_TEST(label_names_refuse_colons_and_leading_digits)
{
    const char *good[] = {"a", "_", "A", "a0", "_9", "method", "le", "quantile", "__reserved_is_a_family_rule"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(LABEL(good[i]), "\"%s\" should be a valid label name", good[i]);
    const char *bad[] = {"", ":", "a:b", ":a", "0", "9a", "a-b", "a b", "a.b", "é", "a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!LABEL(bad[i]), "\"%s\" should not be a valid label name", bad[i]);
}
END_TEST

/* Every byte, as the first and as a later character. */
START_TEST(every_byte_as_first_and_later_name_character)
{
    for (unsigned c = 0; c < 256; c++) {
        char first[2] = {(char)c, 0}, later[3] = {'a', (char)c, 0};
        ck_assert_int_eq(!!fp_valid_metric_name(first, 1), is_alpha_(c) || c == ':');
        ck_assert_int_eq(!!fp_valid_metric_name(later, 2), is_alpha_(c) || c == ':' || is_digit(c));
        ck_assert_int_eq(!!fp_valid_label_name(first, 1), is_alpha_(c));
        ck_assert_int_eq(!!fp_valid_label_name(later, 2), is_alpha_(c) || is_digit(c));
    }
}
END_TEST

START_TEST(names_are_checked_by_length_not_by_nul)
{
    ck_assert(!fp_valid_metric_name("a\0b", 3));
    ck_assert(!fp_valid_label_name("a\0b", 3));
    ck_assert(fp_valid_metric_name("ab-junk", 2));
    ck_assert(!fp_valid_metric_name("ab", 0));
}
END_TEST

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Offset of the first ill-formed sequence per Unicode table 3-7, -1 if none:
 * an independent statement of what fp_utf8_invalid_at must answer. */
static long reference_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t len;
        if (c <= 0x7F) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c == 0xE0) {
            len = 3, lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            len = 3;
        } else if (c == 0xED) {
            len = 3, hi = 0x9F;
        } else if (c == 0xF0) {
            len = 4, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            len = 4;
        } else if (c == 0xF4) {
            len = 4, hi = 0x8F;
        } else {
            return (long)i;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return (long)i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return (long)i;
        i += len;
    }
    return -1;
}

#define INVALID_AT(lit) fp_utf8_invalid_at(lit, sizeof(lit) - 1)

START_TEST(utf8_every_single_byte)
{
    for (unsigned b = 0; b < 256; b++) {
        char c = (char)b;
        ck_assert_int_eq(fp_utf8_invalid_at(&c, 1), b < 0x80 ? -1 : 0);
    }
}
END_TEST

START_TEST(utf8_boundary_code_points_are_valid)
{
    ck_assert_int_eq(INVALID_AT(""), -1);
    ck_assert_int_eq(INVALID_AT("\x00"), -1);             /* NUL is a character */
    ck_assert_int_eq(INVALID_AT("\x7f"), -1);             /* U+007F */
    ck_assert_int_eq(INVALID_AT("\xc2\x80"), -1);         /* U+0080 */
    ck_assert_int_eq(INVALID_AT("\xdf\xbf"), -1);         /* U+07FF */
    ck_assert_int_eq(INVALID_AT("\xe0\xa0\x80"), -1);     /* U+0800 */
    ck_assert_int_eq(INVALID_AT("\xed\x9f\xbf"), -1);     /* U+D7FF */
    ck_assert_int_eq(INVALID_AT("\xee\x80\x80"), -1);     /* U+E000 */
    ck_assert_int_eq(INVALID_AT("\xef\xbf\xbf"), -1);     /* U+FFFF */
    ck_assert_int_eq(INVALID_AT("\xf0\x90\x80\x80"), -1); /* U+10000 */
    ck_assert_int_eq(INVALID_AT("\xf4\x8f\xbf\xbf"), -1); /* U+10FFFF */
    ck_assert_int_eq(INVALID_AT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), -1);
}
END_TEST

START_TEST(utf8_overlongs_are_refused)
{
    ck_assert_int_eq(INVALID_AT("\xc0\x80"), 0);         /* NUL, 2 bytes */
    ck_assert_int_eq(INVALID_AT("\xc0\xaf"), 0);         /* '/', 2 bytes */
    ck_assert_int_eq(INVALID_AT("\xc1\xbf"), 0);         /* U+007F, 2 bytes */
    ck_assert_int_eq(INVALID_AT("\xe0\x80\x80"), 0);     /* NUL, 3 bytes */
    ck_assert_int_eq(INVALID_AT("\xe0\x9f\xbf"), 0);     /* U+07FF, 3 bytes */
    ck_assert_int_eq(INVALID_AT("\xf0\x80\x80\x80"), 0); /* NUL, 4 bytes */
    ck_assert_int_eq(INVALID_AT("\xf0\x8f\xbf\xbf"), 0); /* U+FFFF, 4 bytes */
    ck_assert_int_eq(INVALID_AT("\xf8\x88\x80\x80\x80"), 0);
    ck_assert_int_eq(INVALID_AT("\xfc\x84\x80\x80\x80\x80"), 0);
}
END_TEST

START_TEST(utf8_surrogates_are_refused)
{
    ck_assert_int_eq(INVALID_AT("\xed\xa0\x80"), 0);             /* U+D800 */
    ck_assert_int_eq(INVALID_AT("\xed\xad\xbf"), 0);             /* U+DB7F */
    ck_assert_int_eq(INVALID_AT("\xed\xb0\x80"), 0);             /* U+DC00 */
    ck_assert_int_eq(INVALID_AT("\xed\xbf\xbf"), 0);             /* U+DFFF */
    ck_assert_int_eq(INVALID_AT("\xed\xa0\xbd\xed\xb8\x80"), 0); /* CESU-8 pair */
}
END_TEST

START_TEST(utf8_above_u10ffff_is_refused)
{
    ck_assert_int_eq(INVALID_AT("\xf4\x90\x80\x80"), 0); /* U+110000 */
    ck_assert_int_eq(INVALID_AT("\xf4\xbf\xbf\xbf"), 0);
    ck_assert_int_eq(INVALID_AT("\xf5\x80\x80\x80"), 0);
    ck_assert_int_eq(INVALID_AT("\xf7\xbf\xbf\xbf"), 0); /* U+1FFFFF */
    ck_assert_int_eq(INVALID_AT("\xfe"), 0);
    ck_assert_int_eq(INVALID_AT("\xff"), 0);
}
END_TEST

START_TEST(utf8_truncated_sequences_are_refused_at_their_start)
{
    ck_assert_int_eq(INVALID_AT("\xc3"), 0);
    ck_assert_int_eq(INVALID_AT("\xe2\x82"), 0);
    ck_assert_int_eq(INVALID_AT("\xf0\x9f\x98"), 0);
    ck_assert_int_eq(INVALID_AT("abc\xc3"), 3);
    ck_assert_int_eq(INVALID_AT("ab\xe2\x82"
                                "A"),
                     2); /* continuation missing mid-string */
    ck_assert_int_eq(INVALID_AT("\xf0\x9f\x98\x80\xf0\x9f"), 4);
    ck_assert_int_eq(INVALID_AT("x\x80"), 1);        /* lone continuation */
    ck_assert_int_eq(INVALID_AT("\xc3\xa9\xbf"), 2); /* one continuation too many */
    ck_assert_int_eq(INVALID_AT("ok \xe2\x82\xac and \xff"), 11);
    /* The length bounds the check: a valid sequence cut by n is invalid. */
    ck_assert_int_eq(fp_utf8_invalid_at("\xc3\xa9", 1), 0);
    ck_assert_int_eq(fp_utf8_invalid_at("a\xe2\x82\xac", 3), 1);
}
END_TEST

/* Every sequence of 1 to 3 bytes, and every 4-byte sequence with a lead
 * byte >= 0xF0 and the tail bytes at their boundary values, against the
 * reference; also with a prefix, so offsets other than 0 are checked. */
START_TEST(utf8_matches_the_unicode_table_exhaustively)
{
    unsigned char buf[8];
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            buf[0] = (unsigned char)a, buf[1] = (unsigned char)b;
            ck_assert_int_eq(fp_utf8_invalid_at((char *)buf, 2), reference_invalid_at(buf, 2));
            for (unsigned c = 0; c < 256; c++) {
                buf[2] = (unsigned char)c;
                long got = fp_utf8_invalid_at((char *)buf, 3), want = reference_invalid_at(buf, 3);
                if (got != want)
                    ck_abort_msg("%02x %02x %02x: got %ld, want %ld", a, b, c, got, want);
            }
        }
    static const unsigned char tails[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (unsigned a = 0xe0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof tails; c++)
                for (size_t d = 0; d < sizeof tails; d++) {
                    unsigned char s[6] = {'x', (unsigned char)a, (unsigned char)b, tails[c], tails[d], 'y'};
                    for (size_t n = 1; n <= sizeof s; n++) {
                        long got = fp_utf8_invalid_at((char *)s, n), want = reference_invalid_at(s, n);
                        if (got != want)
                            ck_abort_msg("x %02x %02x %02x %02x y (n=%zu): got %ld, want %ld", a, b, tails[c], tails[d],
                                         n, got, want);
                    }
                }
}
END_TEST

/* ---- label value encoding ------------------------------------------------ */

START_TEST(label_values_round_trip_with_nul_empty_and_utf8)
{
    static char big[65535];
    memset(big, 'v', sizeof big);
    const char *values[] = {"GET", "", "a\0b", "\xe2\x82\xac", big, big};
    size_t lens[] = {3, 0, 3, 3, 4096, 65535};
    size_t n = sizeof lens / sizeof *lens;
    size_t size = fp_labels_encoded_size(lens, n);
    ck_assert_uint_eq(size, 2 * n + 3 + 0 + 3 + 3 + 4096 + 65535);
    static unsigned char blob[2 * 6 + 3 + 3 + 3 + 4096 + 65535];
    ck_assert_uint_eq(sizeof blob, size);
    fp_labels_encode(blob, values, lens, n);
    /* Little-endian u16 lengths. */
    ck_assert_uint_eq(blob[0], 3);
    ck_assert_uint_eq(blob[1], 0);
    ck_assert_uint_eq(blob[5], 0);
    ck_assert_uint_eq(blob[6], 0);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v;
        size_t len;
        ck_assert_int_eq(fp_labels_next(blob, size, &pos, &v, &len), FP_FOUND);
        ck_assert_uint_eq(len, lens[i]);
        ck_assert(memcmp(v, values[i], len) == 0);
        ck_assert_ptr_eq(v, (const char *)blob + pos - len);
    }
    ck_assert_uint_eq(pos, size);
    const char *v;
    size_t len;
    ck_assert_int_eq(fp_labels_next(blob, size, &pos, &v, &len), FP_ABSENT);
    ck_assert_uint_eq(pos, size);
}
END_TEST

START_TEST(label_length_is_little_endian_u16)
{
    static char value[0x0102];
    const char *values[] = {value};
    size_t lens[] = {0x0102};
    static unsigned char blob[2 + 0x0102];
    fp_labels_encode(blob, values, lens, 1);
    ck_assert_uint_eq(blob[0], 0x02);
    ck_assert_uint_eq(blob[1], 0x01);
}
END_TEST

START_TEST(malformed_label_blobs_are_refused)
{
    const unsigned char blob[] = {2, 0, 'o', 'k', 5, 0, 'a', 'b'};
    const char *v;
    size_t len, pos;
    pos = 0;
    ck_assert_int_eq(fp_labels_next(blob, 1, &pos, &v, &len), FP_CORRUPT); /* half a length */
    ck_assert_uint_eq(pos, 0);
    ck_assert_int_eq(fp_labels_next(blob, 3, &pos, &v, &len), FP_CORRUPT); /* value cut short */
    ck_assert_int_eq(fp_labels_next(blob, sizeof blob, &pos, &v, &len), FP_FOUND);
    ck_assert_uint_eq(pos, 4);
    ck_assert_int_eq(fp_labels_next(blob, sizeof blob, &pos, &v, &len), FP_CORRUPT); /* says 5, has 2 */
    ck_assert_uint_eq(pos, 4);
    pos = sizeof blob + 1; /* past the end */
    ck_assert_int_eq(fp_labels_next(blob, sizeof blob, &pos, &v, &len), FP_CORRUPT);
    ck_assert_uint_eq(pos, sizeof blob + 1);
    pos = sizeof blob; /* exactly at the end: nothing left, nothing wrong */
    ck_assert_int_eq(fp_labels_next(blob, sizeof blob, &pos, &v, &len), FP_ABSENT);
    pos = 0; /* an empty blob has no value */
    ck_assert_int_eq(fp_labels_next(blob, 0, &pos, &v, &len), FP_ABSENT);
}
END_TEST

START_TEST(hash_depends_on_seed_and_every_byte)
{
    const char s[] = "http_requests";
    uint32_t h = fp_hash(1, s, sizeof s - 1);
    ck_assert_uint_eq(h, fp_hash(1, s, sizeof s - 1));
    ck_assert_uint_ne(h, fp_hash(2, s, sizeof s - 1));
    char t[sizeof s];
    for (size_t i = 0; i < sizeof s - 1; i++) {
        memcpy(t, s, sizeof s);
        t[i] ^= 1;
        ck_assert_uint_ne(h, fp_hash(1, t, sizeof s - 1));
    }
    ck_assert_uint_ne(fp_hash(1, "a\0", 2), fp_hash(1, "a", 1));
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("grammar");
    tcase_add_test(tc, metric_names_accept_the_prometheus_grammar);
    tcase_add_test(tc, label_names_refuse_colons_and_leading_digits);
    tcase_add_test(tc, every_byte_as_first_and_later_name_character);
    tcase_add_test(tc, names_are_checked_by_length_not_by_nul);
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, utf8_every_single_byte);
    tcase_add_test(tc, utf8_boundary_code_points_are_valid);
    tcase_add_test(tc, utf8_overlongs_are_refused);
    tcase_add_test(tc, utf8_surrogates_are_refused);
    tcase_add_test(tc, utf8_above_u10ffff_is_refused);
    tcase_add_test(tc, utf8_truncated_sequences_are_refused_at_their_start);
    tcase_add_test(tc, utf8_matches_the_unicode_table_exhaustively);
    suite_add_tcase(s, tc);

    tc = tcase_create("encoding");
    tcase_add_test(tc, label_values_round_trip_with_nul_empty_and_utf8);
    tcase_add_test(tc, label_length_is_little_endian_u16);
    tcase_add_test(tc, malformed_label_blobs_are_refused);
    tcase_add_test(tc, hash_depends_on_seed_and_every_byte);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(names_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
