/*
 * write.c - the commands that change a segment: init (create it ahead of the
 * writers, e.g. from ExecStartPre) and inc/dec/set/observe (one update from
 * a shell script or cron job). An update creates its family on first use,
 * with the label names in the order given; later updates must match that
 * definition, which the library checks (EEXIST names both).
 *
 * Each run is a new process, and a gauge's value is per process: a dec
 * through fastprom_dec() would start from this process's 0. So in the
 * mostrecent modes dec reads the value a scrape shows and sets it lower.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char init_help[] =
    "usage: fastprom [--path P] init [--size BYTES[K|M|G]] [--mode 0660] [--slots N] [--family-limit N]\n"
    "\n"
    "Creates the segment if it does not exist and prints its path. An existing\n"
    "segment is kept as it is: a differing --size is reported on stderr (delete\n"
    "the file to recreate it).\n"
    "\n"
    "  --size BYTES        total size, e.g. 64M (default: $FASTPROM_SIZE, else 8M)\n"
    "  --mode MODE         file mode in octal (default: $FASTPROM_MODE, else 0640)\n"
    "  --slots N           writer slots, one per writing thread (default 1024)\n"
    "  --family-limit N    series a family may hold (default: $FASTPROM_FAMILY_LIMIT,\n"
    "                      else 10000)\n";

static const char update_help[] = "usage: fastprom [--path P] inc     [OPTIONS] NAME [LABEL=VALUE ...] [AMOUNT]\n"
                                  "       fastprom [--path P] dec     [OPTIONS] NAME [LABEL=VALUE ...] [AMOUNT]\n"
                                  "       fastprom [--path P] set     [OPTIONS] NAME [LABEL=VALUE ...] VALUE\n"
                                  "       fastprom [--path P] observe [OPTIONS] NAME [LABEL=VALUE ...] VALUE\n"
                                  "\n"
                                  "inc adds AMOUNT (default 1) to a counter; dec subtracts AMOUNT (default 1)\n"
                                  "from a gauge; set sets a gauge; observe records VALUE in a histogram.\n"
                                  "In the mostrecent modes dec reads the gauge's value and sets it lower:\n"
                                  "two dec runs at the same moment may lose one.\n"
                                  "The family is created on first use with the label names in the order\n"
                                  "given; afterwards the same name must be used with the same definition.\n"
                                  "A label value may contain '=' (the first one splits name and value).\n"
                                  "Options come before NAME, so negative values need no quoting.\n"
                                  "\n"
                                  "  --help-text TEXT    the family's HELP text when this creates it\n"
                                  "  --unit UNIT         the family's unit (appended to NAME unless NAME ends\n"
                                  "                      in _UNIT)\n"
                                  "  --gauge-mode MODE   dec, set: how the values of several processes combine:\n"
                                  "                      livesum all liveall sum max livemax min livemin\n"
                                  "                      mostrecent livemostrecent. Default mostrecent: this\n"
                                  "                      command exits at once, and the live* modes forget a\n"
                                  "                      value as soon as its process is gone.\n"
                                  "  --buckets LIST      observe: upper bounds, ascending, e.g. 0.1,0.5,1\n"
                                  "                      (default: 0.005 ... 10, prometheus_client's)\n";

static int parse_size(const char *cmd, const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end != s && (*end == 'K' || *end == 'k'))
        shift = 10, end++;
    else if (end != s && (*end == 'M' || *end == 'm'))
        shift = 20, end++;
    else if (end != s && (*end == 'G' || *end == 'g'))
        shift = 30, end++;
    if (end == s || *end != '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ' || v == 0)
        return cli_usage(cmd, "bad --size \"%s\": write bytes with an optional K, M or G suffix, e.g. 64M", s);
    if (v > (FASTPROM_MAX_SIZE >> shift))
        return cli_usage(cmd, "bad --size \"%s\": at most %u bytes (4095M)", s, FASTPROM_MAX_SIZE);
    *out = (size_t)(v << shift);
    return 0;
}

int cmd_init(const char *path, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},  {"mode", required_argument, NULL, 'm'},
        {"slots", required_argument, NULL, 'n'}, {"family-limit", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    fastprom_options_t opt = {0};
    unsigned long v;
    int c, rc = 0;
    while (!rc && (c = cli_getopt(cmd, argc, argv, longopts)) != -1) {
        switch (c) {
        case 's': rc = parse_size(cmd, optarg, &opt.size); break;
        case 'm':
            rc = cli_parse_unsigned(cmd, "--mode", optarg, 8, 07777, &v);
            opt.mode = (unsigned)v;
            break;
        case 'n':
            rc = cli_parse_unsigned(cmd, "--slots", optarg, 10, 0xFFFFFFFFul, &v);
            opt.max_slots = (unsigned)v;
            break;
        case 'f':
            rc = cli_parse_unsigned(cmd, "--family-limit", optarg, 10, 0xFFFFFFFFul, &v);
            opt.family_limit = (unsigned)v;
            break;
        case 'h': fputs(init_help, stdout); return 0;
        default: rc = CLI_USAGE; break;
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument \"%s\": see fastprom init --help", argv[optind]);
    struct stat before;
    int existed = stat(path && *path ? path : fastprom_default_path(), &before) == 0;
    fastprom_t *fp = cli_open(cmd, path, &opt, &rc);
    if (!fp)
        return rc;
    fastprom_stat_t st;
    fastprom_error_t err;
    if (fastprom_stat(fp, &st, &err) != 0) {
        rc = cli_fail(cmd, "%s", err.text);
    } else {
        printf("%s\n", fastprom_path(fp));
        if (existed && opt.size && st.size != opt.size)
            fprintf(stderr,
                    "fastprom: init: %s already exists with size %llu bytes, not %zu; kept it (delete the file to "
                    "recreate it)\n",
                    fastprom_path(fp), (unsigned long long)st.size, opt.size);
        if (fflush(stdout) != 0)
            rc = cli_fail(cmd, "writing stdout failed");
    }
    fastprom_close(fp);
    return rc;
}

/* ---- inc, dec, set, observe --------------------------------------------- */

typedef struct update {
    const char *cmd;
    fastprom_family_def_t def;
    const char *label_names[FASTPROM_MAX_LABELS];
    const char *label_values[FASTPROM_MAX_LABELS];
    double buckets[FASTPROM_MAX_BUCKETS + 1];
    int gauge_mode_given, buckets_given;
    const char *value_text; /* as given, for messages */
    double value;
} update_t;

static int parse_buckets(update_t *u, const char *list)
{
    size_t n = 0;
    char *copy = strdup(list);
    if (!copy)
        return cli_fail(u->cmd, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        if (n == FASTPROM_MAX_BUCKETS + 1)
            rc = cli_usage(u->cmd, "bad --buckets \"%s\": at most %d bounds", list, FASTPROM_MAX_BUCKETS);
        else
            rc = cli_parse_double(u->cmd, "bucket bound", item, &u->buckets[n++]);
    }
    free(copy);
    if (!rc && n == 0)
        rc = cli_usage(u->cmd, "bad --buckets \"%s\": give bounds separated by commas, e.g. 0.1,0.5,1", list);
    u->def.buckets = u->buckets;
    u->def.nbuckets = n;
    return rc;
}

static int valid_label_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

/* NAME [label=value ...] [VALUE]: a label holds '=', a value does not and
 * comes last. */
static int parse_operands(update_t *u, int argc, char **argv, int value_required, double default_value)
{
    if (optind >= argc)
        return cli_usage(u->cmd, "missing NAME: see fastprom %s --help", u->cmd);
    u->def.name = argv[optind++];
    int last = argc;
    if (last > optind && !strchr(argv[last - 1], '=')) {
        last--;
        u->value_text = argv[last];
        int rc = cli_parse_double(u->cmd, "value", argv[last], &u->value);
        if (rc)
            return rc;
    } else if (value_required) {
        return cli_usage(u->cmd, "missing VALUE after NAME and labels: see fastprom %s --help", u->cmd);
    } else {
        u->value = default_value;
        u->value_text = "1";
    }
    for (int i = optind; i < last; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq)
            return cli_usage(u->cmd, "bad label \"%s\": write labels as name=value, before the value", argv[i]);
        if (!valid_label_name(argv[i], (size_t)(eq - argv[i])))
            return cli_usage(u->cmd, "bad label \"%s\": label names match [a-zA-Z_][a-zA-Z0-9_]*", argv[i]);
        if (u->def.nlabels == FASTPROM_MAX_LABELS)
            return cli_usage(u->cmd, "too many labels: at most %d", FASTPROM_MAX_LABELS);
        u->label_names[u->def.nlabels] = strndup(argv[i], (size_t)(eq - argv[i]));
        if (!u->label_names[u->def.nlabels])
            return cli_fail(u->cmd, "out of memory");
        u->label_values[u->def.nlabels++] = eq + 1;
    }
    u->def.label_names = u->label_names;
    return 0;
}

/* Rules the CLI checks itself, to name the argument at fault. */
static int check_update(update_t *u)
{
    int is_gauge = u->def.type == FASTPROM_GAUGE;
    if (u->gauge_mode_given && !is_gauge)
        return cli_usage(u->cmd, "--gauge-mode is for gauges: use it with dec or set");
    if (u->buckets_given && u->def.type != FASTPROM_HISTOGRAM)
        return cli_usage(u->cmd, "--buckets is for histograms: use it with observe");
    if (u->def.type == FASTPROM_COUNTER && !(u->value >= 0))
        return cli_usage(u->cmd,
                         "bad amount \"%s\": a counter only goes up (not NaN either); use a gauge (set, dec) "
                         "for values that fall",
                         u->value_text);
    if (u->def.type == FASTPROM_HISTOGRAM && u->value != u->value)
        return cli_usage(u->cmd, "bad value \"%s\": a histogram cannot observe NaN", u->value_text);
    return 0;
}

/* The name the library gives the family: the unit appended unless the name
 * ends in _<unit>. */
static void family_name(const update_t *u, char *out, size_t cap)
{
    const char *unit = u->def.unit ? u->def.unit : "";
    size_t len = strlen(u->def.name), ulen = strlen(unit);
    int has = !ulen || (len > ulen && u->def.name[len - ulen - 1] == '_' && !strcmp(u->def.name + len - ulen, unit));
    snprintf(out, cap, "%s%s%s", u->def.name, has ? "" : "_", has ? "" : unit);
}

/* The value a scrape shows for the series (0 when it shows none), read
 * through the JSON rendering of this one family. */
static int current_value(const update_t *u, fastprom_t *fp, double *out)
{
    char name[FASTPROM_MAX_NAME + 80];
    family_name(u, name, sizeof name);
    const char *names[] = {name};
    fastprom_render_options_t ropt = {FASTPROM_FORMAT_JSON, names, 1, NULL, 0};
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    if (fastprom_render(fp, &ropt, &buf, &err) != 0)
        return cli_fail(u->cmd, "%s", err.text);
    json_t *root = json_loadb(buf.data, buf.len, JSON_ALLOW_NUL, NULL);
    fastprom_buf_free(&buf);
    json_t *want = json_object();
    for (size_t i = 0; i < u->def.nlabels; i++)
        json_object_set_new(want, u->label_names[i], json_string(u->label_values[i]));
    json_t *series = json_object_get(json_array_get(json_object_get(root, "families"), 0), "series");
    *out = 0;
    size_t i;
    json_t *s;
    json_array_foreach(series, i, s)
    {
        if (!json_equal(json_object_get(s, "labels"), want))
            continue;
        json_t *v = json_object_get(s, "value");
        *out = json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
    }
    json_decref(want);
    json_decref(root);
    return 0;
}

static int is_dec_of_mostrecent(const update_t *u)
{
    return strcmp(u->cmd, "dec") == 0 &&
           (u->def.gauge_mode == FASTPROM_GAUGE_MOSTRECENT || u->def.gauge_mode == FASTPROM_GAUGE_LIVEMOSTRECENT);
}

static int apply(update_t *u, const char *path)
{
    fastprom_options_t opt = {0};
    int rc = 0;
    fastprom_t *fp = cli_open(u->cmd, path, &opt, &rc);
    if (!fp)
        return rc;
    fastprom_error_t err;
    fastprom_family_t *fam = fastprom_family(fp, &u->def, &err);
    fastprom_series_t *s = fam ? fastprom_series(fam, u->label_values, NULL, &err) : NULL;
    if (!s) {
        rc = err.code == FASTPROM_EINVAL ? cli_usage(u->cmd, "%s", err.text) : cli_fail(u->cmd, "%s", err.text);
    } else {
        int code;
        switch (u->def.type) {
        case FASTPROM_COUNTER: code = fastprom_inc(s, u->value); break;
        case FASTPROM_HISTOGRAM: code = fastprom_observe(s, u->value); break;
        default:
            if (strcmp(u->cmd, "set") == 0) {
                code = fastprom_set(s, u->value);
            } else if (is_dec_of_mostrecent(u)) {
                double now = 0;
                rc = current_value(u, fp, &now);
                code = rc ? 0 : fastprom_set(s, now - u->value);
            } else {
                code = fastprom_dec(s, u->value);
            }
            break;
        }
        if (code)
            rc = cli_fail(u->cmd, "%s %s failed: %s", u->cmd, u->def.name, fastprom_strerror(code));
    }
    fastprom_close(fp);
    return rc;
}

int cmd_update(const char *path, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help-text", required_argument, NULL, 'H'},
        {"unit", required_argument, NULL, 'u'},
        {"gauge-mode", required_argument, NULL, 'g'},
        {"buckets", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    update_t u = {.cmd = argv[0]};
    int is_set = strcmp(u.cmd, "set") == 0, is_observe = strcmp(u.cmd, "observe") == 0;
    u.def.type = strcmp(u.cmd, "inc") == 0 ? FASTPROM_COUNTER : is_observe ? FASTPROM_HISTOGRAM : FASTPROM_GAUGE;
    u.def.gauge_mode = FASTPROM_GAUGE_MOSTRECENT;
    int c, rc = 0;
    while (!rc && (c = cli_getopt(u.cmd, argc, argv, longopts)) != -1) {
        switch (c) {
        case 'H': u.def.help = optarg; break;
        case 'u': u.def.unit = optarg; break;
        case 'g': {
            int mode = fastprom_gauge_mode_parse(optarg);
            if (mode < 0)
                rc = cli_usage(u.cmd,
                               "bad --gauge-mode \"%s\": use livesum, all, liveall, sum, max, livemax, min, "
                               "livemin, mostrecent or livemostrecent",
                               optarg);
            u.def.gauge_mode = (fastprom_gauge_mode_t)mode;
            u.gauge_mode_given = 1;
            break;
        }
        case 'b':
            rc = parse_buckets(&u, optarg);
            u.buckets_given = 1;
            break;
        case 'h': fputs(update_help, stdout); return 0;
        default: rc = CLI_USAGE; break;
        }
    }
    if (!rc)
        rc = parse_operands(&u, argc, argv, is_set || is_observe, 1);
    if (!rc)
        rc = check_update(&u);
    if (!rc)
        rc = apply(&u, path);
    for (size_t i = 0; i < u.def.nlabels; i++)
        free((char *)u.label_names[i]);
    return rc;
}
