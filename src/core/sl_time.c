/*
 * sl_time.c: a clock read once per loop iteration, with the date strings logs and headers use.
 */
#include <stdio.h>

#include "sl_time.h"

volatile sl_msec_t sl_current_msec;
volatile time_t sl_cached_time_sec;

/* Sized for any int the formats could print, so the compiler can prove no truncation. */
static u_char err_log_time[96];
static u_char http_time[96];
static u_char http_log_time[96];
static time_t strings_sec = -1;

static const char *const week[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

size_t sl_http_time(time_t t, u_char *buf, size_t size)
{
    struct tm gmt;

    gmtime_r(&t, &gmt);
    int n = snprintf((char *) buf, size, "%s, %02d %s %4d %02d:%02d:%02d GMT", week[gmt.tm_wday],
                     gmt.tm_mday, months[gmt.tm_mon], gmt.tm_year + 1900, gmt.tm_hour, gmt.tm_min,
                     gmt.tm_sec);
    return n < 0 || size == 0 ? 0 : sl_min((size_t) n, size - 1);
}

static void format_strings(time_t sec)
{
    struct tm local;

    localtime_r(&sec, &local);
    sl_http_time(sec, http_time, sizeof(http_time));
    snprintf((char *) err_log_time, sizeof(err_log_time), "%4d/%02d/%02d %02d:%02d:%02d",
             local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min,
             local.tm_sec);
    long off = local.tm_gmtoff / 60;
    snprintf((char *) http_log_time, sizeof(http_log_time),
             "%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld", local.tm_mday, months[local.tm_mon],
             local.tm_year + 1900, local.tm_hour, local.tm_min, local.tm_sec, off < 0 ? '-' : '+',
             labs(off) / 60, labs(off) % 60);
    strings_sec = sec;
}

void sl_time_update(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    sl_current_msec = (sl_msec_t) ts.tv_sec * 1000 + (sl_msec_t) ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_REALTIME, &ts);
    sl_cached_time_sec = ts.tv_sec;
    if (ts.tv_sec != strings_sec) {
        format_strings(ts.tv_sec);
    }
}

static void ensure_strings(void)
{
    if (strings_sec == -1) {
        sl_time_update();
    }
}

const u_char *sl_cached_err_log_time(void)
{
    ensure_strings();
    return err_log_time;
}

const u_char *sl_cached_http_time(void)
{
    ensure_strings();
    return http_time;
}

const u_char *sl_cached_http_log_time(void)
{
    ensure_strings();
    return http_log_time;
}
