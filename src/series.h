/*
 * series.h - series of a family: records in the segment and this process's
 * series handles (series.c).
 */
#ifndef FASTPROM_SERIES_H
#define FASTPROM_SERIES_H

#include "handle.h"

/* Frees every series handle of fp (fastprom_close). */
void fp_series_free_all(fastprom_t *fp);

#endif
