/*
 * cli.h - what the fastprom command's files share: the command table entry
 * points, one-line error reporting, strict argument parsing.
 *
 * Exit codes: 0 success, 1 the operation failed, 2 bad usage.
 */
#ifndef FASTPROM_CLI_H
#define FASTPROM_CLI_H

#include <stddef.h>

#include "fastprom.h"

#define CLI_FAILED 1
#define CLI_USAGE 2

/* Each command gets the segment path (NULL: the library's default) and its
 * own argv, argv[0] being the command name. Returns the exit code. */
int cmd_dump(const char *path, int argc, char **argv);
int cmd_stat(const char *path, int argc, char **argv);
int cmd_init(const char *path, int argc, char **argv);
int cmd_update(const char *path, int argc, char **argv); /* inc, dec, set, observe */

/* Prints "fastprom: <cmd>: <message>" on stderr; returns CLI_FAILED /
 * CLI_USAGE so callers can return it. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Parses the options of argv (getopt_long, stopping at the first operand so
 * values like "-1" stay operands) and reports unknown options and missing
 * values as one usage line. Returns the option's val, -1 at the end of the
 * options (optind then indexes the first operand), or '?' after printing.
 */
struct option;
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts);

/* Strict number parsing: the whole string or an error line. Return 0 or the
 * exit code (the error printed, naming what). */
int cli_parse_double(const char *cmd, const char *what, const char *s, double *out);
int cli_parse_unsigned(const char *cmd, const char *what, const char *s, int base, unsigned long max,
                       unsigned long *out);

/* Opens the segment; on failure prints the library's error line, sets *rc
 * (CLI_USAGE for a bad option such as the size, else CLI_FAILED) and
 * returns NULL. */
fastprom_t *cli_open(const char *cmd, const char *path, const fastprom_options_t *opt, int *rc);

#endif
