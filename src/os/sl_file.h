/*
 * sl_file.h: temp files, closing files, writing chains to files and reading file parts back.
 *
 * Temp files are opened with O_TMPFILE where the filesystem allows: they have no name, so
 * nothing is left behind on any exit, SIGKILL included.  Elsewhere a named file is created
 * and unlinked at once, which is the same from then on.  A temp file is given a name only
 * when its name is asked for (client_body_in_file_only, $request_body_file); its owner
 * removes it (a SIGKILL leaves it, as nginx's).
 */
#ifndef SL_FILE_H
#define SL_FILE_H

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"
#include "sl_path.h"
#include "sl_pool.h"

/*
 * Opens an anonymous temp file in dir, creating dir (0700) if it is missing.  The fd, or
 * -1 after logging why.
 */
int sl_open_tempfile(const sl_str_t *dir, sl_log_t *log);

/*
 * Gives an open temp file (one sl_open_tempfile() made with O_TMPFILE) a name in path,
 * under the path's hashed levels (directories made as needed): a 10-digit number, levels
 * taken from its end as nginx's ("levels=1:2" gives dir/7/45/0000012457).  name->data is
 * allocated from pool, NUL-terminated.  The caller unlinks it when done.  SL_OK, or
 * SL_ERROR after logging (a file opened without O_TMPFILE cannot be given a name).
 */
sl_int_t sl_name_tempfile(int fd, const sl_path_t *path, sl_pool_t *pool, sl_str_t *name,
                          sl_log_t *log);

/* Closes a file's descriptor (a temp file, a file served).  A connection's never comes
 * here: it closes through its I/O table.  SL_OK, or SL_ERROR with errno set. */
sl_int_t sl_close_file(int fd);

/* Writes the memory bufs of a chain at file->offset with pwritev, advancing the offset.
 * The bytes written, or SL_ERROR (logged; ENOSPC included). */
ssize_t sl_write_chain_to_file(sl_file_t *file, sl_chain_t *cl, sl_log_t *log);

/*
 * Reads size bytes of the file part of b, from b->file_pos, into dst with pread (b is not
 * advanced).  SL_OK, or SL_ERROR after logging at "crit": the read failed, or the file
 * holds fewer bytes than the part promises (it shrank under us).
 */
sl_int_t sl_read_file_part(const sl_buf_t *b, u_char *dst, size_t size, sl_log_t *log);

#endif /* SL_FILE_H */
