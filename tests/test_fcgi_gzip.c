/*
 * test_fcgi_gzip.c - the per-thread gzip encoder: every body round-trips
 * through zlib's inflate, including bodies that do not compress (the output
 * buffer has to grow past its first guess), level changes and trims between
 * calls.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"

static void assert_round_trip(fcgi_gzip_t *gz, const char *in, size_t len, int level)
{
    const char *out;
    size_t out_len;
    ck_assert_int_eq(fcgi_gzip_encode(gz, in, len, level, &out, &out_len), 0);
    ck_assert_uint_ge(out_len, 18); /* gzip header and trailer */
    ck_assert_int_eq((unsigned char)out[0], 0x1f);
    ck_assert_int_eq((unsigned char)out[1], 0x8b);
    char *back = malloc(len + 1);
    z_stream zs = {0};
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)out;
    zs.avail_in = (uInt)out_len;
    zs.next_out = (Bytef *)back;
    zs.avail_out = (uInt)len + 1;
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(zs.total_out, len);
    ck_assert_int_eq(memcmp(back, in, len), 0);
    inflateEnd(&zs);
    free(back);
}

START_TEST(bodies_round_trip)
{
    fcgi_gzip_t *gz = fcgi_gzip_new();
    size_t len = 4u << 20;
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = "http_requests_total{method=\"GET\"} 12\n"[i % 37];
    assert_round_trip(gz, "", 0, 1);
    assert_round_trip(gz, "x", 1, 1);
    assert_round_trip(gz, text, len, 1);
    assert_round_trip(gz, text, 1000, 9); /* another level: re-initialised */
    assert_round_trip(gz, text, len, 6);
    free(text);
    fcgi_gzip_free(gz);
}
END_TEST

START_TEST(incompressible_bodies_grow_the_buffer)
{
    fcgi_gzip_t *gz = fcgi_gzip_new();
    size_t len = 3u << 20;
    char *noise = malloc(len);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (char)x;
    }
    assert_round_trip(gz, noise, len, 1);
    /* trimming between calls (as after every response) keeps it usable */
    fcgi_gzip_trim(gz);
    assert_round_trip(gz, "small", 5, 1);
    fcgi_gzip_trim(gz);
    assert_round_trip(gz, noise, 100000, 1);
    free(noise);
    fcgi_gzip_free(gz);
}
END_TEST

static Suite *gzip_suite(void)
{
    Suite *s = suite_create("fcgi_gzip");
    TCase *tc = tcase_create("gzip");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bodies_round_trip);
    tcase_add_test(tc, incompressible_bodies_grow_the_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gzip_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
