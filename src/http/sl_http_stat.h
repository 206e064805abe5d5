/*
 * sl_http_stat.h: the connection and request counters stub_status shows, in shared memory
 * so every worker adds to the same numbers.  Mapped once, when the first configuration is
 * loaded (before the workers fork), and kept across reloads as nginx keeps them; until then
 * (and in unit tests) nothing is counted.
 */
#ifndef SL_HTTP_STAT_H
#define SL_HTTP_STAT_H

#include "sl_core.h"
#include "sl_log.h"

typedef struct {
    int64_t accepted;
    int64_t handled;
    int64_t active;
    int64_t requests;
    int64_t reading;
    int64_t writing;
} sl_http_stat_t;

extern sl_http_stat_t *sl_http_stat;

/* Maps the counters if not yet mapped.  SL_OK or SL_ERROR (logged). */
sl_int_t sl_http_stat_init(sl_log_t *log);

#define sl_http_stat_add(field, n)                                                                 \
    do {                                                                                           \
        if (sl_http_stat) {                                                                        \
            __atomic_fetch_add(&sl_http_stat->field, (n), __ATOMIC_RELAXED);                       \
        }                                                                                          \
    } while (0)

static inline int64_t sl_http_stat_get(const int64_t *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

#endif /* SL_HTTP_STAT_H */
