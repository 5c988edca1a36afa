/* The directories a layer's whiteouts already emptied: see oci/unpack_internal.h.
 *
 * An open-addressing hash table of (st_dev, st_ino) with linear probing, doubled when half full.
 */
#include <stdlib.h>
#include <string.h>

#include "unpack_internal.h"

struct oci_inoset_slot {
    dev_t dev;
    ino_t ino;
    bool used;
};

#define INOSET_MIN_SLOTS 64

void
oci_inoset_init(struct oci_inoset *set)
{
    memset(set, 0, sizeof(*set));
}

void
oci_inoset_release(struct oci_inoset *set)
{
    free(set->slots);
    oci_inoset_init(set);
}

static size_t
ino_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(h ^ (h >> 31));
}

/* The slot of (dev, ino), or the free slot where it would go. */
static struct oci_inoset_slot *
slot_find(struct oci_inoset_slot *slots, size_t n_slots, dev_t dev, ino_t ino)
{
    size_t mask = n_slots - 1;
    for (size_t i = ino_hash(dev, ino) & mask;; i = (i + 1) & mask) {
        struct oci_inoset_slot *s = &slots[i];
        if (!s->used || (s->dev == dev && s->ino == ino))
            return s;
    }
}

static int
slots_grow(struct oci_inoset *set)
{
    size_t n = set->n_slots ? set->n_slots * 2 : INOSET_MIN_SLOTS;
    struct oci_inoset_slot *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < set->n_slots; i++)
        if (set->slots[i].used)
            *slot_find(slots, n, set->slots[i].dev, set->slots[i].ino) = set->slots[i];
    free(set->slots);
    set->slots = slots;
    set->n_slots = n;
    return 0;
}

int
oci_inoset_add(struct oci_inoset *set, dev_t dev, ino_t ino, struct bx_err *err)
{
    if ((set->n_used + 1) * 2 > set->n_slots && slots_grow(set) < 0)
        return bx_err_set(err, BX_ENOMEM, "inode set: out of memory");
    struct oci_inoset_slot *s = slot_find(set->slots, set->n_slots, dev, ino);
    if (s->used)
        return 0;
    *s = (struct oci_inoset_slot){dev, ino, true};
    set->n_used++;
    return 1;
}
