/*
 * sl_time.h: the cached clock.  The event loop updates it once per iteration, so everything
 * handled in one iteration sees the same time and nobody calls clock_gettime() per event.
 */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <time.h>

#include "sl_core.h"

/* Monotonic milliseconds, for timers. */
extern volatile sl_msec_t sl_current_msec;
/* Wall-clock seconds. */
extern volatile time_t sl_cached_time_sec;

void sl_time_update(void);
/* "2026/01/01 12:00:00" in local time, NUL-terminated. */
const u_char *sl_cached_err_log_time(void);
/* "Thu, 01 Jan 2026 12:00:00 GMT" (RFC 9110 IMF-fixdate), NUL-terminated. */
const u_char *sl_cached_http_time(void);
/* t as an IMF-fixdate into buf (NUL-terminated, cut to size); its length.  size 30 holds
 * every date of four-digit years. */
size_t sl_http_time(time_t t, u_char *buf, size_t size);
/* "01/Jan/2026:12:00:00 +0000", the access log's $time_local, NUL-terminated. */
const u_char *sl_cached_http_log_time(void);

#endif /* SL_TIME_H */
