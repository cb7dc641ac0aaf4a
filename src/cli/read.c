/*
 * read.c - the read-only commands: dump (the exposition on stdout) and stat
 * (the segment's statistics as JSON). Both attach with FASTPROM_READONLY, so
 * they work on a segment owned by another user and never change it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char dump_help[] =
    "usage: fastprom [--path P] dump [--text | --openmetrics | --json] [--prefix P] [--name N]... [--created]\n"
    "\n"
    "Prints the segment's metrics on stdout (the segment is opened read-only).\n"
    "\n"
    "  --text          Prometheus text format 0.0.4 (the default)\n"
    "  --openmetrics   OpenMetrics 1.0.0\n"
    "  --json          fastprom's JSON view\n"
    "  --prefix P      prepend P to every metric name, e.g. myapp_\n"
    "  --name N        only the family N (a family or sample name, prefix\n"
    "                  included); repeat for more\n"
    "  --created       OpenMetrics: add the <name>_created samples\n";

static const char stat_help[] = "usage: fastprom [--path P] stat\n"
                                "\n"
                                "Prints the segment's statistics as JSON: size and bytes used, families and\n"
                                "series by type, writer slots (live, dead, total), live processes, dropped\n"
                                "series and updates, folded slots, lock repairs, layout version, creation time.\n";

static int write_stdout(const char *cmd, const char *data, size_t len)
{
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
        return cli_fail(cmd, "writing stdout failed: %s", strerror(errno));
    return 0;
}

static int only_options(const char *cmd, int argc, char **argv)
{
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument \"%s\": see fastprom %s --help", argv[optind], cmd);
    return 0;
}

int cmd_dump(const char *path, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"text", no_argument, NULL, 't'},       {"openmetrics", no_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},       {"prefix", required_argument, NULL, 'P'},
        {"name", required_argument, NULL, 'n'}, {"created", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    fastprom_render_options_t ropt = {FASTPROM_FORMAT_TEXT, NULL, 0, NULL, 0};
    const char **names = calloc((size_t)argc, sizeof *names);
    if (!names)
        return cli_fail(cmd, "out of memory");
    int c, rc = 0;
    while (!rc && (c = cli_getopt(cmd, argc, argv, longopts)) != -1) {
        switch (c) {
        case 't': ropt.format = FASTPROM_FORMAT_TEXT; break;
        case 'o': ropt.format = FASTPROM_FORMAT_OPENMETRICS; break;
        case 'j': ropt.format = FASTPROM_FORMAT_JSON; break;
        case 'P': ropt.prefix = optarg; break;
        case 'n': names[ropt.nnames++] = optarg; break;
        case 'c': ropt.flags |= FASTPROM_RENDER_CREATED; break;
        case 'h':
            fputs(dump_help, stdout);
            free(names);
            return 0;
        default: rc = CLI_USAGE; break;
        }
    }
    if (!rc)
        rc = only_options(cmd, argc, argv);
    if (rc) {
        free(names);
        return rc;
    }
    ropt.names = names;
    fastprom_options_t opt = {.flags = FASTPROM_READONLY};
    fastprom_t *fp = cli_open(cmd, path, &opt, &rc);
    if (!fp) {
        free(names);
        return rc;
    }
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    if (fastprom_render(fp, &ropt, &buf, &err) != 0)
        rc = err.code == FASTPROM_EINVAL ? cli_usage(cmd, "%s", err.text) : cli_fail(cmd, "%s", err.text);
    else
        rc = write_stdout(cmd, buf.data ? buf.data : "", buf.len);
    fastprom_buf_free(&buf);
    fastprom_close(fp);
    free(names);
    return rc;
}

static json_t *by_type(uint32_t total, const uint32_t *counts)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "total", json_integer(total));
    for (int t = 1; t < FASTPROM_NTYPES; t++)
        json_object_set_new(obj, fastprom_type_name(t), json_integer(counts[t]));
    return obj;
}

static json_t *stat_json(const char *path, const fastprom_stat_t *st)
{
    json_t *root = json_object();
    json_object_set_new(root, "path", json_string(path));
    json_object_set_new(root, "layout_version", json_integer(st->layout_version));
    json_object_set_new(root, "size", json_integer((json_int_t)st->size));
    json_object_set_new(root, "used", json_integer((json_int_t)st->used));
    json_object_set_new(root, "created", json_real(st->created));
    json_object_set_new(root, "families", by_type(st->families, st->families_by_type));
    json_t *series = by_type(st->series, st->series_by_type);
    json_object_set_new(series, "capacity", json_integer(st->series_capacity));
    json_object_set_new(root, "series", series);
    json_t *slots = json_object();
    json_object_set_new(slots, "total", json_integer(st->slots_total));
    json_object_set_new(slots, "live", json_integer(st->slots_live));
    json_object_set_new(slots, "dead", json_integer(st->slots_dead));
    json_object_set_new(root, "slots", slots);
    json_object_set_new(root, "processes_live", json_integer(st->processes_live));
    json_object_set_new(root, "dropped_series", json_integer((json_int_t)st->dropped_series));
    json_object_set_new(root, "dropped_updates", json_integer((json_int_t)st->dropped_updates));
    json_object_set_new(root, "fallback_updates", json_integer((json_int_t)st->fallback_updates));
    json_object_set_new(root, "folded_slots", json_integer((json_int_t)st->folded_slots));
    json_object_set_new(root, "repairs", json_integer((json_int_t)st->repairs));
    /* An opaque 64-bit token, compared for equality only: as a number it
     * would come out negative past 2^63 and lose bits in JSON readers that
     * hold numbers as doubles. */
    char activity[17];
    snprintf(activity, sizeof activity, "%016" PRIx64, st->activity);
    json_object_set_new(root, "activity", json_string(activity));
    return root;
}

int cmd_stat(const char *path, int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    int c;
    while ((c = cli_getopt(cmd, argc, argv, longopts)) != -1) {
        if (c != 'h')
            return CLI_USAGE;
        fputs(stat_help, stdout);
        return 0;
    }
    int rc = only_options(cmd, argc, argv);
    if (rc)
        return rc;
    fastprom_options_t opt = {.flags = FASTPROM_READONLY};
    fastprom_t *fp = cli_open(cmd, path, &opt, &rc);
    if (!fp)
        return rc;
    fastprom_stat_t st;
    fastprom_error_t err;
    if (fastprom_stat(fp, &st, &err) != 0) {
        rc = cli_fail(cmd, "%s", err.text);
    } else {
        json_t *root = stat_json(fastprom_path(fp), &st);
        char *text = json_dumps(root, JSON_INDENT(2));
        json_decref(root);
        if (!text) {
            rc = cli_fail(cmd, "out of memory");
        } else {
            rc = write_stdout(cmd, text, strlen(text));
            if (!rc)
                rc = write_stdout(cmd, "\n", 1);
            free(text);
        }
    }
    fastprom_close(fp);
    return rc;
}
