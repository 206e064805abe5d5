/*
 * sl_shm.c: anonymous shared mappings.
 */
#include <sys/mman.h>

#include "sl_shm.h"

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
    return SL_OK;
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
}
