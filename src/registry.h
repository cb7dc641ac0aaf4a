/*
 * registry.h - metric families: definitions in the segment and this
 * process's family handles (registry.c).
 */
#ifndef FASTPROM_REGISTRY_H
#define FASTPROM_REGISTRY_H

#include "handle.h"

/* Frees fp's family handles and their series maps (fastprom_close). */
void fp_families_free(fastprom_t *fp);

#endif
