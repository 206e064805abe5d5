/*
 * sl_test_log.h: an error log the unit tests read back.  It writes to an anonymous temp
 * file (removed at once, so nothing is left behind); sl_test_log_text() returns what it
 * got, for strstr() checks of nginx's wording.  Include after cmocka.h.
 */
#ifndef SL_TEST_LOG_H
#define SL_TEST_LOG_H

#include <stdlib.h>
#include <unistd.h>

#include "sl_log.h"

/* Points log at a fresh temp file behind file, at level; stderr gets nothing. */
static inline void sl_test_log_open(sl_log_t *log, sl_open_file_t *file, sl_uint_t level)
{
    char path[] = "/tmp/sl-test-log-XXXXXX";

    file->fd = mkstemp(path);
    assert_true(file->fd >= 0);
    unlink(path);
    sl_str_set(&file->name, "test.log");
    memset(log, 0, sizeof(*log));
    log->file = file;
    log->log_level = level;
    sl_use_stderr = 0;
}

/* Everything the log got so far (a static buffer: the first 16k). */
static inline const char *sl_test_log_text(const sl_open_file_t *file)
{
    static char buf[16384];
    ssize_t n = pread(file->fd, buf, sizeof(buf) - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

#endif /* SL_TEST_LOG_H */
