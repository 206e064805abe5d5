/*
 * sl_shm.h: anonymous shared memory for state every worker sees (upstream zones).
 *
 * The mapping is made by the master before it forks the workers, so every process has it
 * at the same address: structures inside may point into the mapping itself, never into
 * process-private memory.
 */
#ifndef SL_SHM_H
#define SL_SHM_H

#include "sl_core.h"
#include "sl_log.h"
#include "sl_slab.h"
#include "sl_str.h"

typedef struct sl_shm_s sl_shm_t;
struct sl_shm_s {
    u_char *addr;  /* the mapping, after sl_shm_alloc */
    size_t size;   /* requested size (set by the caller) */
    sl_str_t name; /* for log messages */
    sl_log_t *log;
    /** a slab pool (sl_slab.h) starts at addr: its lock is freed when its holder dies */
    unsigned slab : 1;
    /** called in the master after a child died (its locks freed): what else the zone's
     * owner must undo of that process (a cache entry it was fetching); NULL for none */
    void (*process_died)(sl_shm_t *shm, pid_t pid);
    void *data;
    /* the live mappings, for sl_shm_process_died */
    sl_shm_t *prev;
    sl_shm_t *next;
};

/*
 * Maps shm->size bytes of anonymous shared memory (MAP_SHARED|MAP_ANONYMOUS) into
 * shm->addr: zero-filled, page-aligned, shared with processes forked afterwards.  SL_OK, or
 * SL_ERROR after logging "mmap(MAP_ANON|MAP_SHARED, SIZE) failed" at alert (addr stays
 * NULL).  The caller owns the mapping and releases it with sl_shm_free().
 */
sl_int_t sl_shm_alloc(sl_shm_t *shm);

/*
 * A child process died (the master reaped it): in every live mapping, a slab lock it held
 * is freed, logged at alert as nginx ("shared memory zone \"NAME\" was locked by PID"), and
 * the mapping's process_died hook runs.  A process that died holding a lock must not wedge
 * the others.
 */
void sl_shm_process_died(pid_t pid, sl_log_t *log);

/* Unmaps shm->addr (a no-op when it is NULL), logging "munmap(ADDR, SIZE) failed" at alert
 * if the kernel refuses; addr is NULL afterwards either way. */
void sl_shm_free(sl_shm_t *shm);

#endif /* SL_SHM_H */
