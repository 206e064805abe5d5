/*
 * sl_file.h: temp files and writing chains to files.
 *
 * Temp files are opened with O_TMPFILE where the filesystem allows: they have no name, so
 * nothing is left behind on any exit, SIGKILL included.  Elsewhere a named file is created
 * and unlinked at once, which is the same from then on.
 */
#ifndef SL_FILE_H
#define SL_FILE_H

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"

/*
 * Opens an anonymous temp file in dir, creating dir (0700) if it is missing.  The fd, or
 * -1 after logging why.
 */
int sl_open_tempfile(const sl_str_t *dir, sl_log_t *log);

/* Writes the memory bufs of a chain at file->offset with pwritev, advancing the offset.
 * The bytes written, or SL_ERROR (logged; ENOSPC included). */
ssize_t sl_write_chain_to_file(sl_file_t *file, sl_chain_t *cl, sl_log_t *log);

#endif /* SL_FILE_H */
