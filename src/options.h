/*
 * options.h - fastprom_options_t with every default and environment
 * variable applied: what a segment is opened or created with.
 */
#ifndef FASTPROM_OPTIONS_H
#define FASTPROM_OPTIONS_H

#include <stddef.h>

#include "fastprom.h"

struct fp_resolved {
    const char *path; /* borrowed from the options or the environment */
    size_t size;
    unsigned max_slots, family_limit, mode;
};

/* Fills r from opt, then the FASTPROM_* environment, then the defaults. */
int fp_options_resolve(const fastprom_options_t *opt, struct fp_resolved *r, fastprom_error_t *err);

#endif
