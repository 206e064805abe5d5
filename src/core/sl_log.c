/*
 * sl_log.c: error log lines in nginx's format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>

#include "sl_log.h"
#include "sl_time.h"

pid_t sl_pid;
pid_t sl_tid;
int sl_use_stderr = 1;

static const char *const level_names[] = {
    "", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

static sl_open_file_t stderr_file = { STDERR_FILENO, sl_string("stderr"), NULL, NULL };
static sl_log_t startup_log;

void sl__bug(const char *file, int line, const char *expr)
{
    sl_log_error(SL_LOG_ALERT, &startup_log, 0, "invariant violated: %s at %s:%d", expr, file,
                 line);
}

const char *sl_log_level_name(sl_uint_t level)
{
    return level < sl_nelems(level_names) ? level_names[level] : "unknown";
}

sl_int_t sl_log_level_by_name(const sl_str_t *name)
{
    for (sl_uint_t i = 1; i < sl_nelems(level_names); i++) {
        if (sl_str_eq_cstr(name, level_names[i])) {
            return (sl_int_t) i;
        }
    }
    return SL_ERROR;
}

u_char *sl_log_errno(u_char *buf, u_char *last, sl_err_t err)
{
    if (buf >= last) {
        return buf;
    }
    int n = snprintf((char *) buf, last - buf, " (%d: %s)", err, strerror(err));
    if (n < 0) {
        return buf;
    }
    return buf + sl_min((size_t) n, (size_t) (last - buf) - 1);
}

/* Writes all of it, retrying on EINTR; a log write that fails has nowhere to be reported. */
static void write_all(int fd, const u_char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += w;
        n -= (size_t) w;
    }
}

static u_char *append(u_char *p, u_char *last, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static u_char *append(u_char *p, u_char *last, const char *fmt, ...)
{
    if (p >= last) {
        return p;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *) p, last - p, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return p;
    }
    return p + sl_min((size_t) n, (size_t) (last - p) - 1);
}

/* Writes the message part (after the time/level/pid prefix) into [p, last). */
static u_char *format_message(sl_log_t *log, u_char *p, u_char *last, sl_err_t err, const char *fmt,
                              va_list ap)
{
    int n = vsnprintf((char *) p, last - p, fmt, ap);
    if (n > 0) {
        p += sl_min((size_t) n, (size_t) (last - p) - 1);
    }
    if (err) {
        p = sl_log_errno(p, last, err);
    }
    if (log->action) {
        p = append(p, last, " while %s", log->action);
    }
    if (log->handler) {
        p = log->handler(log, p, last - p);
    }
    return p;
}

void sl_log_error_core(sl_uint_t level, sl_log_t *log, sl_err_t err, const char *fmt, ...)
{
    u_char line[SL_MAX_ERROR_STR];
    u_char *last = line + sizeof(line) - 1; /* room for the newline */
    u_char *p = line;
    va_list ap;

    p = append(p, last, "%s [%s] %d#%d: ", (const char *) sl_cached_err_log_time(),
               sl_log_level_name(level), (int) sl_pid, (int) sl_tid);
    if (log->connection) {
        p = append(p, last, "*%lu ", (unsigned long) log->connection);
    }
    u_char *msg = p;
    va_start(ap, fmt);
    p = format_message(log, p, last, err, fmt, ap);
    va_end(ap);
    *p++ = '\n';

    int wrote_stderr = 0;
    for (sl_log_t *l = log; l; l = l->next) {
        if (l->log_level < level) {
            continue;
        }
        int fd = l->file ? l->file->fd : STDERR_FILENO;
        if (fd < 0) {
            continue;
        }
        write_all(fd, line, p - line);
        if (fd == STDERR_FILENO) {
            wrote_stderr = 1;
        }
    }
    if (!sl_use_stderr || level > SL_LOG_WARN || wrote_stderr) {
        return;
    }
    u_char con[SL_MAX_ERROR_STR + 32];
    u_char *c = append(con, con + sizeof(con) - 1, "sluice: [%s] ", sl_log_level_name(level));
    size_t mlen = sl_min((size_t) (p - msg), (size_t) (con + sizeof(con) - c));
    memcpy(c, msg, mlen);
    write_all(STDERR_FILENO, con, (c - con) + mlen);
}

void sl_log_stderr(sl_err_t err, const char *fmt, ...)
{
    u_char line[SL_MAX_ERROR_STR];
    u_char *last = line + sizeof(line) - 1;
    u_char *p = append(line, last, "sluice: ");
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf((char *) p, last - p, fmt, ap);
    va_end(ap);
    if (n > 0) {
        p += sl_min((size_t) n, (size_t) (last - p) - 1);
    }
    if (err) {
        p = sl_log_errno(p, last, err);
    }
    *p++ = '\n';
    write_all(STDERR_FILENO, line, p - line);
}

sl_log_t *sl_log_init(void)
{
    sl_pid = getpid();
    sl_tid = sl_pid;
    startup_log.log_level = SL_LOG_NOTICE;
    startup_log.file = &stderr_file;
    return &startup_log;
}

sl_int_t sl_log_open_default(sl_log_t *log, const char *path)
{
    static sl_open_file_t file;

    if (strcmp(path, "stderr") == 0) {
        log->file = &stderr_file;
        return SL_OK;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno,
                     "could not open error log file: open() \"%s\" failed", path);
        return SL_ERROR;
    }
    file.fd = fd;
    file.name.data = (u_char *) path;
    file.name.len = strlen(path);
    log->file = &file;
    return SL_OK;
}

void sl_log_startup_follow(const sl_log_t *log)
{
    startup_log.file = log->file;
    startup_log.log_level = log->log_level;
}

void sl_log_use_file(sl_log_t *log, sl_open_file_t *file)
{
    sl_open_file_t *old = log->file;

    log->file = file;
    if (old && old != file && old->fd > STDERR_FILENO && old->fd != file->fd) {
        close(old->fd);
        old->fd = -1;
    }
}

sl_int_t sl_log_redirect_stderr(sl_log_t *log)
{
    if (log->file == NULL || log->file->fd == STDERR_FILENO || log->file->fd < 0) {
        return SL_OK;
    }
    if (dup2(log->file->fd, STDERR_FILENO) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "dup2(STDERR) failed");
        return SL_ERROR;
    }
    return SL_OK;
}
