/*
 * slots.c - claiming, releasing and testing writer slots (slots.h).
 */
#include <fcntl.h>
#include <unistd.h>

#include "alloc.h"
#include "wallclock.h"
#include "slots.h"

static struct flock slot_lock(short type, uint32_t slot)
{
    return (struct flock){.l_type = type, .l_whence = SEEK_SET, .l_start = FP_LOCK_BASE + slot, .l_len = 1};
}

bool fp_slot_alive(const fastprom_t *fp, uint32_t slot)
{
    struct flock l = slot_lock(F_WRLCK, slot);
    if (fcntl(fp->probe_fd, F_OFD_GETLK, &l) < 0)
        return true; /* unsure: never fold a slot we cannot prove dead */
    return l.l_type != F_UNLCK;
}

bool fp_slot_claim(fastprom_t *fp, uint32_t i, uint32_t primary, uint64_t proc_start)
{
    struct fp_slot *s = fp_slot_at(fp, i);
    if (atomic_load(&s->state) != FP_SLOT_FREE)
        return false;
    struct flock l = slot_lock(F_WRLCK, i);
    if (fcntl(fp->lock_fd, F_OFD_SETLK, &l) < 0)
        return false;
    atomic_fetch_add(&s->gen, 1);
    atomic_store(&s->pid, (uint32_t)getpid());
    atomic_store(&s->proc_start, proc_start);
    atomic_store(&s->flags, primary == i ? FP_SLOT_PRIMARY : 0);
    atomic_store(&s->primary, primary);
    atomic_store(&s->head, 0);
    atomic_store(&s->claimed_ns, fp_now_ns());
    atomic_store_explicit(&s->state, FP_SLOT_LIVE, memory_order_release);
    return true;
}

void fp_slot_unlock(fastprom_t *fp, uint32_t slot)
{
    struct flock l = slot_lock(F_UNLCK, slot);
    fcntl(fp->lock_fd, F_OFD_SETLK, &l);
}

void fp_slot_release(fastprom_t *fp, uint32_t i)
{
    struct fp_slot *s = fp_slot_at(fp, i);
    fp_chain_free(fp, atomic_load(&s->head));
    atomic_store(&s->head, 0);
    atomic_store(&s->flags, 0);
    atomic_store_explicit(&s->state, FP_SLOT_FREE, memory_order_release);
}
