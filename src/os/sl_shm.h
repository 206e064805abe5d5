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
#include "sl_str.h"

typedef struct {
    u_char *addr;  /* the mapping, after sl_shm_alloc */
    size_t size;   /* requested size (set by the caller) */
    sl_str_t name; /* for log messages */
    sl_log_t *log;
} sl_shm_t;

/*
 * Maps shm->size bytes of anonymous shared memory (MAP_SHARED|MAP_ANONYMOUS) into
 * shm->addr: zero-filled, page-aligned, shared with processes forked afterwards.  SL_OK, or
 * SL_ERROR after logging "mmap(MAP_ANON|MAP_SHARED, SIZE) failed" at alert (addr stays
 * NULL).  The caller owns the mapping and releases it with sl_shm_free().
 */
sl_int_t sl_shm_alloc(sl_shm_t *shm);

/* Unmaps shm->addr (a no-op when it is NULL), logging "munmap(ADDR, SIZE) failed" at alert
 * if the kernel refuses; addr is NULL afterwards either way. */
void sl_shm_free(sl_shm_t *shm);

#endif /* SL_SHM_H */
