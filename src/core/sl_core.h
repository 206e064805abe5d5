/*
 * sl_core.h: what every file in sluice includes first.
 *
 * Return codes are a closed set with nginx's meanings; functions document which of them they
 * return and when.
 */
#ifndef SL_CORE_H
#define SL_CORE_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SLUICE_VERSION "0.1.0"
/* The nginx release whose behaviour and defaults sluice follows (Debian 12's). */
#define SL_NGINX_VERSION "1.22.1"

#define SL_OK 0
#define SL_ERROR -1
#define SL_AGAIN -2
#define SL_BUSY -3
#define SL_DONE -4
#define SL_DECLINED -5
#define SL_ABORT -6

typedef intptr_t sl_int_t;
typedef uintptr_t sl_uint_t;
typedef int sl_err_t;
/* Milliseconds of the monotonic clock; never wraps in practice. */
typedef uint64_t sl_msec_t;
/* Signed difference of two sl_msec_t values. */
typedef int64_t sl_msec_int_t;

typedef struct sl_pool_s sl_pool_t;
typedef struct sl_log_s sl_log_t;
typedef struct sl_buf_s sl_buf_t;
typedef struct sl_chain_s sl_chain_t;
typedef struct sl_cycle_s sl_cycle_t;
typedef struct sl_conf_s sl_conf_t;
typedef struct sl_module_s sl_module_t;
typedef struct sl_command_s sl_command_t;
typedef struct sl_event_s sl_event_t;
typedef struct sl_connection_s sl_connection_t;
typedef struct sl_open_file_s sl_open_file_t;

// clang-format off
#define sl_align(d, a) (((d) + ((a) - 1)) & ~((a) - 1))
// clang-format on
#define sl_align_ptr(p, a)                                                                         \
    (u_char *) (((uintptr_t) (p) + ((uintptr_t) (a) -1)) & ~((uintptr_t) (a) -1))
#define sl_min(a, b) ((a) < (b) ? (a) : (b))
#define sl_max(a, b) ((a) > (b) ? (a) : (b))
#define sl_nelems(a) (sizeof(a) / sizeof((a)[0]))

#define SL_ALIGNMENT sizeof(uintptr_t)

#define SL_INT64_LEN (sizeof("-9223372036854775808") - 1)
#define SL_MAX_OFF_T_VALUE INT64_MAX
#define SL_MAX_SIZE_T_VALUE SIZE_MAX

#define sl_likely(x) __builtin_expect(!!(x), 1)
#define sl_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * Invariants.  SL_ASSERT is for debug builds; SL_BUG_ON always checks, logs an alert and
 * evaluates to true so the caller can fail the request instead of the process.
 */
void sl__bug(const char *file, int line, const char *expr);

#define SL_BUG_ON(cond) (sl_unlikely(cond) ? (sl__bug(__FILE__, __LINE__, #cond), 1) : 0)

#ifdef SL_DEBUG
#define SL_ASSERT(cond) ((cond) ? (void) 0 : (sl__bug(__FILE__, __LINE__, #cond), abort()))
#else
#define SL_ASSERT(cond) ((void) 0)
#endif

#endif /* SL_CORE_H */
