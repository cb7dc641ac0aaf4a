/*
 * lock.h - the segment's robust process-shared lock, which every
 * structural change holds, and the repair that runs when a holder died.
 */
#ifndef FASTPROM_LOCK_H
#define FASTPROM_LOCK_H

#include "handle.h"

/* Takes the segment lock, repairing the segment first when its previous
 * holder died inside a change. */
int fp_lock(fastprom_t *fp, fastprom_error_t *err);
void fp_unlock(fastprom_t *fp);
/* Takes the lock and folds dead writers (fold.h); returns slots folded or
 * an error. */
int fp_collect_dead(fastprom_t *fp, fastprom_error_t *err);

#endif
