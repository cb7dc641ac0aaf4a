/*
 * slots.h - the writer slot table and slot liveness.
 *
 * A slot is owned by whoever holds the OFD lock on its byte (at
 * FP_LOCK_BASE + index), taken through the owning process's lock_fd: the
 * kernel drops it however the process dies, in any PID namespace, so
 * liveness never depends on PIDs.
 */
#ifndef FASTPROM_SLOTS_H
#define FASTPROM_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "handle.h"

static inline struct fp_slot *fp_slot_at(const fastprom_t *fp, uint32_t i)
{
    return (struct fp_slot *)(fp->base + fp->geo.slots_off) + i;
}

/* Whether slot i's lock is held by some process (this one included); true
 * when unsure, so a slot is never folded unless proven dead. */
bool fp_slot_alive(const fastprom_t *fp, uint32_t slot);
/* Takes free slot i for this process (under the segment lock): true when
 * its lock was free and the slot is now LIVE with a new generation. */
bool fp_slot_claim(fastprom_t *fp, uint32_t i, uint32_t primary, uint64_t proc_start);
/* Drops this process's lock on slot i (the slot itself stays LIVE until
 * a fold proves it dead). */
void fp_slot_unlock(fastprom_t *fp, uint32_t slot);
/* Frees slot i and its value chain (under the segment lock). */
void fp_slot_release(fastprom_t *fp, uint32_t i);

#endif
