/*
 * textfile.c - whole-file reads (textfile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textfile.h"

char *svc_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the configuration: %s (check --config)", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (cap - used < 4096) {
            char *grown = cap > max ? NULL : realloc(text, cap = cap * 2 + 4096);
            if (!grown) {
                snprintf(err, errlen, "%s: the configuration is larger than %zu KiB or memory ran out", path,
                         max >> 10);
                free(text);
                fclose(f);
                return NULL;
            }
            text = grown;
        }
        size_t n = fread(text + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed || used > max) {
        if (failed)
            snprintf(err, errlen, "%s: read error", path);
        else
            snprintf(err, errlen, "%s: the configuration is larger than %zu KiB", path, max >> 10);
        free(text);
        return NULL;
    }
    *len = used;
    return text;
}
