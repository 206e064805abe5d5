/*
 * sl_shm.c: anonymous shared mappings.
 */
#include <sys/mman.h>

#include "sl_shm.h"

/* every mapping between sl_shm_alloc and sl_shm_free, newest first */
static sl_shm_t *live;

sl_int_t sl_shm_alloc(sl_shm_t *shm)
{
    /* Anonymous memory rather than a file: nothing to name, clean up or leak on a crash. */
    void *p = mmap(NULL, shm->size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0);

    if (p == MAP_FAILED) {
        sl_log_error(SL_LOG_ALERT, shm->log, errno, "mmap(MAP_ANON|MAP_SHARED, %zu) failed",
                     shm->size);
        shm->addr = NULL;
        return SL_ERROR;
    }
    shm->addr = p;
    shm->prev = NULL;
    shm->next = live;
    if (live) {
        live->prev = shm;
    }
    live = shm;
    return SL_OK;
}

void sl_shm_process_died(pid_t pid, sl_log_t *log)
{
    for (sl_shm_t *shm = live; shm; shm = shm->next) {
        if (shm->slab && sl_slab_force_unlock((sl_slab_pool_t *) shm->addr, pid)) {
            sl_log_error(SL_LOG_ALERT, log, 0, "shared memory zone \"%.*s\" was locked by %d",
                         SL_STR_ARG(shm->name), (int) pid);
        }
        if (shm->process_died) {
            shm->process_died(shm, pid);
        }
    }
}

void sl_shm_free(sl_shm_t *shm)
{
    if (shm->addr == NULL) {
        return;
    }
    if (munmap(shm->addr, shm->size) == -1) {
        sl_log_error(SL_LOG_ALERT, shm->log, errno, "munmap(%p, %zu) failed", (void *) shm->addr,
                     shm->size);
    }
    shm->addr = NULL;
    if (shm->prev) {
        shm->prev->next = shm->next;
    } else if (live == shm) {
        live = shm->next;
    }
    if (shm->next) {
        shm->next->prev = shm->prev;
    }
    shm->prev = shm->next = NULL;
}
