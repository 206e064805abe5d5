/*
 * sl_http_stat.c: the shared counters of stub_status (see sl_http_stat.h).
 */
#include "sl_http_stat.h"
#include "sl_shm.h"

sl_http_stat_t *sl_http_stat;

sl_int_t sl_http_stat_init(sl_log_t *log)
{
    static sl_shm_t shm;

    if (sl_http_stat) {
        return SL_OK;
    }
    shm.size = sizeof(sl_http_stat_t);
    shm.name = (sl_str_t) sl_string("stub_status");
    shm.log = log;
    if (sl_shm_alloc(&shm) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_stat = (sl_http_stat_t *) shm.addr;
    return SL_OK;
}
