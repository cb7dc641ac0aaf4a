/*
 * test_fcgi_guard.c - the check in front of libfcgi (fcgi/guard.c), as the
 * intake (fcgi/intake.c) applies it: crafted FastCGI byte streams written
 * into one end of a socketpair, whole, in pieces or a byte at a time, with
 * or without the writer hanging up, and the verdict on the other end, which
 * the intake watches. Every verdict must leave all the bytes unread for
 * libfcgi. Covers what nginx sends (passes, however it is
 * split), the name/value lengths that crash libfcgi 2.4.2 (refused, the
 * regression inputs in tests/regress/ included), the size bounds at their
 * edges, truncated and never-ending streams, and malformed record sequences.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "guard.h"
#include "intake.h"

#define BEGIN_REQUEST 1
#define PARAMS 4
#define STDIN_RECORD 5
#define GET_VALUES 9
#define PATIENT 30.0 /* seconds: a verdict that must not come from the deadline */

typedef struct bytes {
    unsigned char *data;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
        ck_assert_ptr_nonnull(b->data);
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_byte(bytes_t *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void record(bytes_t *b, unsigned version, unsigned type, unsigned id, const void *content, size_t n,
                   unsigned padding)
{
    unsigned char h[8] = {version, type, id >> 8, id & 0xff, n >> 8, n & 0xff, padding, 0};
    unsigned char zeros[255] = {0};
    put(b, h, sizeof h);
    put(b, content, n);
    put(b, zeros, padding);
}

static void begin_role(bytes_t *b, unsigned role)
{
    unsigned char body[8] = {role >> 8, role & 0xff, 0};
    record(b, 1, BEGIN_REQUEST, 1, body, sizeof body, 0);
}

static void begin(bytes_t *b)
{
    begin_role(b, 1);
}

/* A name-value length as FastCGI encodes it: 1 byte below 128, else 4. */
static void put_length(bytes_t *b, uint32_t n)
{
    if (n < 128) {
        put_byte(b, n);
        return;
    }
    put_byte(b, 0x80 | n >> 24);
    put_byte(b, n >> 16 & 0xff);
    put_byte(b, n >> 8 & 0xff);
    put_byte(b, n & 0xff);
}

static void put_pair(bytes_t *params, const char *name, const char *value)
{
    put_length(params, (uint32_t)strlen(name));
    put_length(params, (uint32_t)strlen(value));
    put(params, name, strlen(name));
    put(params, value, strlen(value));
}

/* A pair of name_len 'n's and value_len 'v's. */
static void put_sized_pair(bytes_t *params, size_t name_len, size_t value_len)
{
    put_length(params, (uint32_t)name_len);
    put_length(params, (uint32_t)value_len);
    for (size_t i = 0; i < name_len; i++)
        put_byte(params, 'n');
    for (size_t i = 0; i < value_len; i++)
        put_byte(params, 'v');
}

/* params cut into PARAMS records of at most chunk bytes, then the empty one. */
static void params_records(bytes_t *b, const bytes_t *params, size_t chunk, unsigned padding, int terminate)
{
    for (size_t off = 0; off < params->len; off += chunk) {
        size_t n = params->len - off < chunk ? params->len - off : chunk;
        record(b, 1, PARAMS, 1, params->data + off, n, padding);
    }
    if (terminate)
        record(b, 1, PARAMS, 1, NULL, 0, 0);
}

/* What nginx sends for GET /metrics with its stock fastcgi_params. */
static void nginx_params(bytes_t *params)
{
    static const char *const pairs[][2] = {
        {"QUERY_STRING", "name[]=http_requests_total"},
        {"REQUEST_METHOD", "GET"},
        {"CONTENT_TYPE", ""},
        {"CONTENT_LENGTH", ""},
        {"SCRIPT_NAME", "/metrics"},
        {"REQUEST_URI", "/metrics?name[]=http_requests_total"},
        {"DOCUMENT_URI", "/metrics"},
        {"DOCUMENT_ROOT", "/usr/share/nginx/html"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"REQUEST_SCHEME", "http"},
        {"GATEWAY_INTERFACE", "CGI/1.1"},
        {"SERVER_SOFTWARE", "nginx/1.22.1"},
        {"REMOTE_ADDR", "127.0.0.1"},
        {"REMOTE_PORT", "51234"},
        {"SERVER_ADDR", "127.0.0.1"},
        {"SERVER_PORT", "9100"},
        {"SERVER_NAME", "_"},
        {"REDIRECT_STATUS", "200"},
        {"HTTP_HOST", "127.0.0.1:9100"},
        {"HTTP_ACCEPT", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"},
        {"HTTP_ACCEPT_ENCODING", "gzip"},
        {"HTTP_USER_AGENT", "Prometheus/2.42.0"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        put_pair(params, pairs[i][0], pairs[i][1]);
}

static void nginx_request(bytes_t *b)
{
    bytes_t params = {0};
    nginx_params(&params);
    begin(b);
    params_records(b, &params, 65535, (unsigned)(-params.len & 7), 1);
    record(b, 1, STDIN_RECORD, 1, NULL, 0, 0);
    free(params.data);
}

typedef struct feeder {
    int fd;
    const bytes_t *stream;
    size_t chunk;    /* bytes per write */
    long pause_ns;   /* between writes */
    int hang_up;     /* close when done */
    atomic_int quit; /* stop writing: the verdict is in */
    atomic_size_t written;
    atomic_int done;
} feeder_t;

static void *feed(void *arg)
{
    feeder_t *f = arg;
    for (size_t off = 0; off < f->stream->len && !atomic_load(&f->quit);) {
        size_t n = f->stream->len - off < f->chunk ? f->stream->len - off : f->chunk;
        ssize_t w = write(f->fd, f->stream->data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
        atomic_store(&f->written, off);
        if (f->pause_ns) {
            struct timespec ts = {0, f->pause_ns};
            nanosleep(&ts, NULL);
        }
    }
    if (f->hang_up)
        close(f->fd);
    atomic_store(&f->done, 1);
    return NULL;
}

/* Reads what the feeder wrote (it may still be writing into a full socket)
 * and checks it is the stream's beginning, byte for byte. */
static void assert_all_unread(int fd, feeder_t *f)
{
    unsigned char *back = malloc(f->stream->len + 1);
    size_t got = 0;
    for (int finished = 0;;) {
        ssize_t n = recv(fd, back + got, f->stream->len + 1 - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
        } else if (finished) {
            break;
        } else {
            finished = atomic_load(&f->done); /* then one more pass for its last bytes */
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_uint_eq(got, atomic_load(&f->written));
    ck_assert(got == 0 || memcmp(back, f->stream->data, got) == 0);
    free(back);
}

static char last_detail[256];

/* What the intake made of one connection: the verdict of its refusal, or
 * OK when it handed the connection out. */
typedef struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int known;
    fcgi_guard_verdict_t verdict;
    double timeout;
    fcgi_intake_t *intake;
} outcome_t;

static void settle(outcome_t *o, fcgi_guard_verdict_t v, const char *detail)
{
    pthread_mutex_lock(&o->lock);
    if (!o->known) {
        o->known = 1;
        o->verdict = v;
        snprintf(last_detail, sizeof last_detail, "%s: %s", fcgi_guard_verdict_name(v), detail);
    }
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->lock);
}

static double outcome_timeout(void *ctx)
{
    return ((outcome_t *)ctx)->timeout;
}

static void outcome_refused(void *ctx, fcgi_guard_verdict_t v, const char *detail)
{
    settle(ctx, v, detail);
}

static void outcome_accept_failed(void *ctx, int error)
{
    (void)ctx, (void)error;
}

static void *take_passed(void *arg)
{
    outcome_t *o = arg;
    int fd;
    while (fcgi_intake_next(o->intake, &fd) == 0) {
        close(fd);
        fcgi_intake_done(o->intake);
        settle(o, FCGI_GUARD_OK, "");
    }
    return NULL;
}

/*
 * The verdict on stream arriving chunk bytes at a time (pause_ns apart),
 * the writer hanging up at the end when hang_up, with `wait` seconds of I/O
 * timeout. The intake gets a duplicate of the reading end, so the test can
 * check afterwards that no byte was consumed.
 */
static fcgi_guard_verdict_t verdict_fed(const bytes_t *stream, size_t chunk, long pause_ns, int hang_up, double wait)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    outcome_t o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, FCGI_GUARD_MORE, wait, NULL};
    fcgi_intake_ops_t ops = {&o, outcome_timeout, outcome_refused, outcome_accept_failed};
    char err[256];
    ck_assert_msg((o.intake = fcgi_intake_start(-1, 16, &ops, err, sizeof err)) != NULL, "%s", err);
    pthread_t taker;
    ck_assert_int_eq(pthread_create(&taker, NULL, take_passed, &o), 0);
    feeder_t f = {sv[0], stream, chunk ? chunk : stream->len + 1, pause_ns, hang_up};
    pthread_t writer;
    ck_assert_int_eq(pthread_create(&writer, NULL, feed, &f), 0);
    ck_assert_int_eq(fcgi_intake_add(o.intake, dup(sv[1])), 0);
    pthread_mutex_lock(&o.lock);
    while (!o.known)
        pthread_cond_wait(&o.cv, &o.lock);
    pthread_mutex_unlock(&o.lock);
    fcgi_intake_stop(o.intake);
    pthread_join(taker, NULL);
    fcgi_intake_free(o.intake);
    atomic_store(&f.quit, 1);
    assert_all_unread(sv[1], &f);
    pthread_join(writer, NULL);
    if (!hang_up)
        close(sv[0]);
    close(sv[1]);
    return o.verdict;
}

static fcgi_guard_verdict_t verdict(const bytes_t *stream, int hang_up, double wait)
{
    return verdict_fed(stream, 0, 0, hang_up, wait);
}

#define ASSERT_VERDICT(expected, actual)                                                                               \
    do {                                                                                                               \
        fcgi_guard_verdict_t got_ = (actual);                                                                          \
        ck_assert_msg(got_ == (expected), "expected %s, got %s", fcgi_guard_verdict_name(expected), last_detail);      \
    } while (0)

START_TEST(an_nginx_request_passes_and_stays_unread)
{
    bytes_t b = {0};
    nginx_request(&b);
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict(&b, 0, PATIENT));
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict(&b, 1, PATIENT));
    free(b.data);
}
END_TEST

START_TEST(a_request_split_anywhere_passes)
{
    /* Four-byte lengths and long names and values split across records of
     * every size, with and without padding. */
    bytes_t params = {0};
    nginx_params(&params);
    put_sized_pair(&params, 200, 5000);
    put_sized_pair(&params, 0, 0);
    put_sized_pair(&params, 127, 128);
    static const size_t chunks[] = {1, 2, 3, 5, 7, 8, 100, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        bytes_t b = {0};
        begin(&b);
        unsigned padding = chunks[i] < 8 ? 0 : chunks[i] < 100 ? (unsigned)(-chunks[i] & 7) : 255;
        params_records(&b, &params, chunks[i], padding, 1);
        record(&b, 1, STDIN_RECORD, 1, NULL, 0, 0);
        ASSERT_VERDICT(FCGI_GUARD_OK, verdict(&b, 0, PATIENT));
        free(b.data);
    }
    free(params.data);
}
END_TEST

START_TEST(every_prefix_of_a_request_is_more_then_ok)
{
    bytes_t b = {0};
    nginx_request(&b);
    size_t terminator_end = b.len - 8; /* the empty STDIN record follows it */
    for (size_t len = 0; len <= b.len; len++)
        ck_assert_int_eq(fcgi_guard_scan(b.data, len, NULL, 0), len < terminator_end ? FCGI_GUARD_MORE : FCGI_GUARD_OK);
    free(b.data);
}
END_TEST

/* BEGIN, one PARAMS record holding the two raw lengths and filler, the end. */
static void lengths_request(bytes_t *b, uint32_t name_len, uint32_t value_len)
{
    bytes_t params = {0};
    unsigned char raw[8] = {0x80 | name_len >> 24,  name_len >> 16 & 0xff,  name_len >> 8 & 0xff,  name_len & 0xff,
                            0x80 | value_len >> 24, value_len >> 16 & 0xff, value_len >> 8 & 0xff, value_len & 0xff};
    put(&params, raw, sizeof raw);
    for (int i = 0; i < 96; i++)
        put_byte(&params, 'A');
    begin(b);
    params_records(b, &params, 65535, 0, 1);
    free(params.data);
}

START_TEST(lengths_that_overflow_libfcgi_are_refused)
{
    static const uint32_t cases[][2] = {
        {0x40000000, 0x3fffffff}, /* sum + 2 wraps to INT_MIN + 1: libfcgi's assert aborts the worker */
        {0x7ffffff0, 0x7ffffff0}, {0x7fffffff, 0x7fffffff}, {1, 0x7fffffff}, {0x7fffffff, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes_t b = {0};
        lengths_request(&b, cases[i][0], cases[i][1]);
        ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict(&b, 0, PATIENT));
        free(b.data);
    }
}
END_TEST

static bytes_t read_regress(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/regress/%s", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the top of the tree)", path);
    bytes_t b = {0};
    unsigned char chunk[512];
    for (size_t n; (n = fread(chunk, 1, sizeof chunk, f)) > 0;)
        put(&b, chunk, n);
    fclose(f);
    return b;
}

START_TEST(the_regression_inputs_are_refused)
{
    bytes_t b = read_regress("fcgi-params-length-overflow.bin");
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict(&b, 0, PATIENT));
    free(b.data);
    /* The same lengths in a GET_VALUES management record, which libfcgi
     * parses with the same code before any request. */
    b = read_regress("fcgi-get-values-length-overflow.bin");
    ASSERT_VERDICT(FCGI_GUARD_MALFORMED, verdict(&b, 0, PATIENT));
    free(b.data);
}
END_TEST

START_TEST(a_giant_declared_length_is_refused_without_waiting_for_it)
{
    /* 256 MiB declared, 10 bytes sent, the peer waiting: libfcgi would
     * malloc it all; the guard answers before the deadline. */
    bytes_t params = {0}, b = {0};
    put_length(&params, 4);
    put_length(&params, 256u << 20);
    put(&params, "NAMEvalue.", 10);
    begin(&b);
    params_records(&b, &params, 65535, 0, 0);
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict(&b, 0, PATIENT));
    free(params.data);
    free(b.data);
}
END_TEST

static fcgi_guard_verdict_t verdict_of_pairs(size_t npairs, size_t name_len, size_t value_len)
{
    bytes_t params = {0}, b = {0};
    for (size_t i = 0; i < npairs; i++)
        put_sized_pair(&params, name_len, value_len);
    begin(&b);
    params_records(&b, &params, 32768, 0, 1);
    fcgi_guard_verdict_t v = verdict(&b, 0, PATIENT);
    free(params.data);
    free(b.data);
    return v;
}

START_TEST(names_values_and_all_params_have_bounds)
{
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict_of_pairs(1, FCGI_GUARD_MAX_PARAM, FCGI_GUARD_MAX_PARAM));
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict_of_pairs(1, FCGI_GUARD_MAX_PARAM + 1, 1));
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict_of_pairs(1, 1, FCGI_GUARD_MAX_PARAM + 1));
    /* Four pairs of 1 + 4 + 1 + v bytes: exactly the bound, then 4 over. */
    size_t v = FCGI_GUARD_MAX_PARAMS / 4 - 6;
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict_of_pairs(4, 1, v));
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict_of_pairs(4, 1, v + 1));
}
END_TEST

START_TEST(tiny_padded_records_cannot_grow_the_stream)
{
    /* 2000 one-byte records padded to 264 bytes each: valid pairs, but the
     * stream is far over FCGI_GUARD_MAX_STREAM before the parameters end. */
    bytes_t params = {0}, b = {0};
    for (int i = 0; i < 500; i++)
        put_pair(&params, "a", "b");
    begin(&b);
    params_records(&b, &params, 1, 255, 1);
    ck_assert_uint_gt(b.len, FCGI_GUARD_MAX_STREAM);
    ASSERT_VERDICT(FCGI_GUARD_TOO_LARGE, verdict(&b, 0, PATIENT));
    free(params.data);
    free(b.data);
}
END_TEST

START_TEST(truncated_streams_are_refused_when_the_peer_hangs_up)
{
    bytes_t full = {0};
    nginx_request(&full);
    size_t cuts[] = {0, 1, 5, 8, 15, 16, 20, 24, full.len - 17, full.len - 9};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        bytes_t b = {full.data, cuts[i], cuts[i]};
        ASSERT_VERDICT(FCGI_GUARD_TRUNCATED, verdict(&b, 1, PATIENT));
    }
    free(full.data);
}
END_TEST

START_TEST(a_stream_that_never_ends_times_out)
{
    bytes_t params = {0}, b = {0};
    nginx_params(&params);
    begin(&b);
    params_records(&b, &params, 65535, 0, 0);
    ASSERT_VERDICT(FCGI_GUARD_TIMEOUT, verdict(&b, 0, 0.2)); /* PARAMS without the empty record */
    bytes_t nothing = {0};
    ASSERT_VERDICT(FCGI_GUARD_TIMEOUT, verdict(&nothing, 0, 0.2)); /* a silent peer */
    /* A request trickling in more slowly than its deadline allows. */
    ASSERT_VERDICT(FCGI_GUARD_TIMEOUT, verdict_fed(&b, 1, 20 * 1000 * 1000, 0, 0.3));
    free(params.data);
    free(b.data);
}
END_TEST

START_TEST(a_request_trickling_in_passes)
{
    bytes_t b = {0};
    nginx_request(&b);
    /* Not a byte per write: each write takes ~700 bytes of a unix socket's
     * queue, which hundreds of them fill while the guard only peeks. */
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict_fed(&b, 7, 1000 * 1000, 0, PATIENT));
    ASSERT_VERDICT(FCGI_GUARD_OK, verdict_fed(&b, 16, 2000 * 1000, 1, PATIENT));
    free(b.data);
}
END_TEST

START_TEST(malformed_record_sequences_are_refused)
{
    bytes_t params = {0};
    put_pair(&params, "REQUEST_METHOD", "GET");
    unsigned char body[8] = {0, 1, 0};
    for (int i = 0; i < 14; i++) {
        bytes_t b = {0};
        switch (i) {
        case 0: /* zero bytes, as a flooding client sends */
            for (int k = 0; k < 64; k++)
                put_byte(&b, 0);
            break;
        case 1: record(&b, 2, BEGIN_REQUEST, 1, body, 8, 0); break;              /* another version */
        case 2: params_records(&b, &params, 65535, 0, 1); break;                 /* PARAMS before BEGIN */
        case 3: record(&b, 1, GET_VALUES, 0, params.data, params.len, 0); break; /* a management record */
        case 4: record(&b, 1, BEGIN_REQUEST, 0, body, 8, 0); break;              /* request id 0 */
        case 5: record(&b, 1, BEGIN_REQUEST, 1, body, 7, 0); break;              /* a short body */
        case 6: begin_role(&b, 99); break;                                       /* an unknown role */
        case 7: begin_role(&b, 0); break;
        case 8:
            begin(&b);
            begin(&b);
            break; /* two requests */
        case 9:
            begin(&b);
            record(&b, 1, STDIN_RECORD, 1, NULL, 0, 0);
            break; /* stdin before the params end */
        case 10:
            begin(&b);
            record(&b, 1, PARAMS, 2, params.data, params.len, 0);
            break; /* another request id */
        case 11:   /* a management record among the parameters */
            begin(&b);
            record(&b, 1, PARAMS, 1, params.data, params.len, 0);
            record(&b, 1, GET_VALUES, 0, params.data, params.len, 0);
            break;
        case 12: /* the parameters end after a name's length */
            begin(&b);
            record(&b, 1, PARAMS, 1, "\x05", 1, 0);
            record(&b, 1, PARAMS, 1, NULL, 0, 0);
            break;
        case 13: /* ... and inside a value */
            begin(&b);
            record(&b, 1, PARAMS, 1, params.data, params.len - 1, 0);
            record(&b, 1, PARAMS, 1, NULL, 0, 0);
            break;
        }
        ck_assert_msg(verdict(&b, 0, PATIENT) == FCGI_GUARD_MALFORMED, "case %d: %s", i, last_detail);
        free(b.data);
    }
    free(params.data);
}
END_TEST

START_TEST(stopping_closes_what_waits_uncounted)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    bytes_t b = {0};
    begin(&b);
    ck_assert_int_eq(write(sv[0], b.data, b.len), (ssize_t)b.len);
    outcome_t o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, FCGI_GUARD_MORE, PATIENT, NULL};
    fcgi_intake_ops_t ops = {&o, outcome_timeout, outcome_refused, outcome_accept_failed};
    char err[256];
    ck_assert_msg((o.intake = fcgi_intake_start(-1, 16, &ops, err, sizeof err)) != NULL, "%s", err);
    ck_assert_int_eq(fcgi_intake_add(o.intake, sv[1]), 0);
    for (int i = 0; i < 2000 && fcgi_intake_waiting(o.intake) == 0; i++)
        usleep(1000);
    ck_assert_uint_eq(fcgi_intake_waiting(o.intake), 1);
    fcgi_intake_stop(o.intake);
    char byte;
    ck_assert_int_le(read(sv[0], &byte, 1), 0); /* closed (reset: it left bytes unread) */
    int fd;
    ck_assert_int_eq(fcgi_intake_next(o.intake, &fd), -1);
    ck_assert_int_eq(o.known, 0); /* a stop is no refusal */
    fcgi_intake_free(o.intake);
    free(b.data);
    close(sv[0]);
}
END_TEST

static Suite *guard_suite(void)
{
    Suite *s = suite_create("fcgi_guard");
    TCase *tc = tcase_create("guard");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, an_nginx_request_passes_and_stays_unread);
    tcase_add_test(tc, a_request_split_anywhere_passes);
    tcase_add_test(tc, every_prefix_of_a_request_is_more_then_ok);
    tcase_add_test(tc, lengths_that_overflow_libfcgi_are_refused);
    tcase_add_test(tc, the_regression_inputs_are_refused);
    tcase_add_test(tc, a_giant_declared_length_is_refused_without_waiting_for_it);
    tcase_add_test(tc, names_values_and_all_params_have_bounds);
    tcase_add_test(tc, tiny_padded_records_cannot_grow_the_stream);
    tcase_add_test(tc, truncated_streams_are_refused_when_the_peer_hangs_up);
    tcase_add_test(tc, a_stream_that_never_ends_times_out);
    tcase_add_test(tc, a_request_trickling_in_passes);
    tcase_add_test(tc, malformed_record_sequences_are_refused);
    tcase_add_test(tc, stopping_closes_what_waits_uncounted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
