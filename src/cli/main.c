/*
 * main.c - the fastprom command: global options, the command table, and the
 * helpers every command shares (one-line errors, strict number parsing).
 * The commands themselves live in read.c (dump, stat) and write.c (init,
 * inc, dec, set, observe).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: fastprom [--path P] COMMAND [ARGS]\n"
    "\n"
    "Reads and writes a fastprom shared-memory metrics segment.\n"
    "\n"
    "Commands:\n"
    "  dump      print the metrics (Prometheus text, OpenMetrics or JSON)\n"
    "  stat      print the segment's statistics as JSON\n"
    "  init      create the segment (size, mode, slots) ahead of the writers\n"
    "  inc       add to a counter\n"
    "  dec       subtract from a gauge\n"
    "  set       set a gauge\n"
    "  observe   record an observation in a histogram\n"
    "\n"
    "Options:\n"
    "  --path P    the segment file (default: $FASTPROM_PATH, else " FASTPROM_DEFAULT_PATH ")\n"
    "  --help      this text; COMMAND --help describes a command\n"
    "  --version   the version\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 bad usage.\n";

static int vreport(int code, const char *cmd, const char *fmt, va_list ap)
{
    fputs("fastprom: ", stderr);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(CLI_FAILED, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(CLI_USAGE, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

/* getopt's short option string for longopts (each val doubles as a short
 * option internally; users only see the long names). */
static void short_options(const struct option *longopts, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '+'; /* stop at the first operand */
    out[n++] = ':'; /* report a missing value as ':' */
    for (const struct option *o = longopts; o->name && n + 3 < cap; o++) {
        out[n++] = (char)o->val;
        if (o->has_arg == required_argument)
            out[n++] = ':';
    }
    out[n] = '\0';
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts)
{
    char shorts[64];
    short_options(longopts, shorts, sizeof shorts);
    opterr = 0;
    int c = getopt_long(argc, argv, shorts, longopts, NULL);
    const char *space = cmd ? " " : "", *name = cmd ? cmd : "";
    if (c == '?') {
        cli_usage(cmd, "unknown option \"%s\": see fastprom%s%s --help", argv[optind - 1], space, name);
    } else if (c == ':') {
        cli_usage(cmd, "option \"%s\" needs a value: see fastprom%s%s --help", argv[optind - 1], space, name);
        c = '?';
    }
    return c;
}

int cli_parse_double(const char *cmd, const char *what, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return cli_usage(cmd, "bad %s \"%s\": write a number such as 1, -2.5, 1e-3 or +Inf", what, s);
    if (errno == ERANGE && isinf(v))
        return cli_usage(cmd, "bad %s \"%s\": out of the range of a double", what, s);
    *out = v;
    return 0;
}

int cli_parse_unsigned(const char *cmd, const char *what, const char *s, int base, unsigned long max,
                       unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (end == s || *end != '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return cli_usage(cmd, "bad %s \"%s\": write a%s number", what, s, base == 8 ? "n octal" : " decimal");
    if (errno == ERANGE || v > max)
        return cli_usage(cmd, "bad %s \"%s\": at most %lu", what, s, max);
    *out = v;
    return 0;
}

fastprom_t *cli_open(const char *cmd, const char *path, const fastprom_options_t *opt, int *rc)
{
    fastprom_options_t o = *opt;
    fastprom_error_t err;
    o.path = path;
    fastprom_t *fp = fastprom_open(&o, &err);
    if (!fp)
        *rc = err.code == FASTPROM_EINVAL ? cli_usage(cmd, "%s", err.text) : cli_fail(cmd, "%s", err.text);
    return fp;
}

static const struct {
    const char *name;
    int (*run)(const char *path, int argc, char **argv);
} commands[] = {
    {"dump", cmd_dump},  {"stat", cmd_stat},  {"init", cmd_init},      {"inc", cmd_update},
    {"dec", cmd_update}, {"set", cmd_update}, {"observe", cmd_update},
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"path", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int c;
    while ((c = cli_getopt(NULL, argc, argv, longopts)) != -1) {
        switch (c) {
        case 'p': path = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("fastprom %s\n", fastprom_version()); return 0;
        default: return CLI_USAGE;
        }
    }
    if (path && !path[0])
        return cli_usage(NULL, "--path is empty: give the segment file, e.g. " FASTPROM_DEFAULT_PATH);
    if (optind >= argc)
        return cli_usage(NULL, "missing COMMAND: run fastprom --help for the list");
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* restart getopt on the command's own arguments */
            return commands[i].run(path, sub_argc, sub_argv);
        }
    }
    return cli_usage(NULL, "unknown command \"%s\": run fastprom --help for the list", name);
}
