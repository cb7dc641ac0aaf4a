/*
 * log.h - fastprom-nginxlog's log lines on stderr (the journal under
 * systemd): "fastprom-nginxlog: <message>", one write(2) each.
 */
#ifndef NGINXLOG_LOG_H
#define NGINXLOG_LOG_H

#include <stddef.h>

void nl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Up to cap-1 bytes of untrusted data made printable (\xNN, \t...). */
void nl_printable(const char *data, size_t len, char *out, size_t cap);

#endif
