/*
 * sl_log.h: the error log, in nginx's line format:
 *
 *     2026/01/01 12:00:00 [error] PID#TID: *CID message (errno: text) while action, context
 *
 * The wording of messages is an interface (tools grep for it): keep nginx's words.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "sl_core.h"
#include "sl_str.h"

#define SL_LOG_STDERR 0
#define SL_LOG_EMERG 1
#define SL_LOG_ALERT 2
#define SL_LOG_CRIT 3
#define SL_LOG_ERR 4
#define SL_LOG_WARN 5
#define SL_LOG_NOTICE 6
#define SL_LOG_INFO 7
#define SL_LOG_DEBUG 8

#define SL_MAX_ERROR_STR 2048

/* A file the process holds open and reopens on USR1. */
struct sl_open_file_s {
    int fd;
    sl_str_t name; /* NUL-terminated; "stderr" for fd 2 */
    /** writes out what a module buffers for this file (before a reopen or a close) */
    void (*flush)(sl_open_file_t *file, sl_log_t *log);
    void *data;
};

/* Appends context (", client: ..., server: ...") to a line; returns the new end. */
typedef u_char *(*sl_log_handler_pt)(sl_log_t *log, u_char *buf, size_t len);

struct sl_log_s {
    sl_uint_t log_level;
    sl_open_file_t *file;
    /** connection number printed as "*N"; 0 for none */
    sl_uint_t connection;
    sl_log_handler_pt handler;
    void *data;
    /** what is being done, printed as " while <action>" */
    const char *action;
    /** further error_log destinations, each with its own level */
    sl_log_t *next;
};

/* Process identity printed in every line, refreshed after fork. */
extern pid_t sl_pid;
extern pid_t sl_tid;
/* While true (start-up), lines at warn or worse are also printed to stderr as
 * "sluice: [level] message". */
extern int sl_use_stderr;

void sl_log_error_core(sl_uint_t level, sl_log_t *log, sl_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Whether any destination of the chain takes level.  The chain is not sorted by level
 * (error_log directives append in config order), so the head alone cannot answer.
 */
static inline int sl_log_wants(const sl_log_t *log, sl_uint_t level)
{
    for (; log; log = log->next) {
        if (log->log_level >= level) {
            return 1;
        }
    }
    return 0;
}

#define sl_log_error(level, log, ...)                                                              \
    do {                                                                                           \
        if (sl_log_wants(log, level)) {                                                            \
            sl_log_error_core(level, log, __VA_ARGS__);                                            \
        }                                                                                          \
    } while (0)

#ifdef SL_DEBUG
#define sl_log_debug(log, ...) sl_log_error(SL_LOG_DEBUG, log, 0, __VA_ARGS__)
#else
#define sl_log_debug(log, ...) ((void) 0)
#endif

/* "sluice: message (errno: text)" on stderr, for command-line output. */
void sl_log_stderr(sl_err_t err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process-wide start-up log: level notice, writing to stderr until sl_log_open(). */
sl_log_t *sl_log_init(void);
/* Opens path (append, created 0644) for the start-up log; "stderr" means fd 2.
 * On failure the log stays on stderr and an alert says why. */
sl_int_t sl_log_open_default(sl_log_t *log, const char *path);
/* Level name to number ("error" -> SL_LOG_ERR); SL_ERROR for an unknown name. */
sl_int_t sl_log_level_by_name(const sl_str_t *name);
const char *sl_log_level_name(sl_uint_t level);

/* Formats "(errno: text)" style suffix; returns the new end of buf. */
u_char *sl_log_errno(u_char *buf, u_char *last, sl_err_t err);

/* After a reload frees the cycle whose error log the start-up log wrote to: the start-up
 * log (invariant reports, early messages) writes where `log` does. */
void sl_log_startup_follow(const sl_log_t *log);

/* Switches the start-up log to the configured error log's file, closing the file it
 * opened itself (so no descriptor stays open for it). */
void sl_log_use_file(sl_log_t *log, sl_open_file_t *file);

/* Makes fd 2 a copy of the log's file, so sanitizer reports and stray writes land in it. */
sl_int_t sl_log_redirect_stderr(sl_log_t *log);

#endif /* SL_LOG_H */
