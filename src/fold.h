/*
 * fold.h - reclaiming dead writers' slots into the retained totals
 * (fold.c). Every function runs under the segment lock.
 */
#ifndef FASTPROM_FOLD_H
#define FASTPROM_FOLD_H

#include <stdint.h>

#include "handle.h"

/* Folds every slot whose writer died; returns how many, or an error. */
int fp_collect_dead_locked(fastprom_t *fp, fastprom_error_t *err);
/* Step 3 of a fold that published but did not finish (its writer died):
 * frees the slots the retained chain already includes. Returns slots freed. */
uint32_t fp_fold_finish_published(fastprom_t *fp);
/* Bumps reclaim_gen before anything a reader may be walking is freed. */
void fp_announce_reclaim(fastprom_t *fp);

#endif
