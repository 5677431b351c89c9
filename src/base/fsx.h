/* fsx — the file-system steps every writer needs, done once: mkdir -p, writing a whole buffer,
 * fsync of a directory, and a file replaced atomically (written aside, renamed over: a reader or
 * a crash sees the old file or the new one, never a part).
 *
 * Blocking calls: on a worker thread or in a command, never on the loop thread. */
#ifndef VIGIE_FSX_H
#define VIGIE_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* mkdir -p: creates dir and its missing parents with `mode`, then checks that dir is a directory.
 * 0 or a negative errno (-ENOTDIR when something else is in the way). */
int fsx_mkdir_p(const char *dir, mode_t mode);

/* fsx_mkdir_p of the directory holding `path` (nothing to do for a bare file name). */
int fsx_mkdir_parent(const char *path, mode_t mode);

/* Writes all of buf (EINTR and short writes retried). 0 or a negative errno. */
int fsx_write_all(int fd, const void *buf, size_t len);

/* fsync(2) of a directory, so that a rename or an unlink in it survives a crash. 0 or -errno. */
int fsx_fsync_dir(const char *dir);

/* A file being replaced: written into `<dir>/.<name>.XXXXXX` beside it, renamed over it by
 * fsx_atomic_commit. */
struct fsx_atomic {
    char tmp[4096];
    int fd;
    FILE *stream; /* when fsx_atomic_stream was called */
};

#define FSX_DURABLE 1u /* fsync the file before the rename and the directory after it */

/* Creates the temporary file for `path`. 0 or a negative errno (f->fd is -1 then). */
int fsx_atomic_open(struct fsx_atomic *f, const char *path);

/* Appends to it. 0 or a negative errno. */
int fsx_atomic_write(struct fsx_atomic *f, const void *buf, size_t len);

/* A stdio stream on it, for writers that print (fprintf); owned by f. NULL and errno set when
 * fdopen fails. */
FILE *fsx_atomic_stream(struct fsx_atomic *f);

/* rc 0: gives the file `mode`, closes it and renames it over `path` (with FSX_DURABLE, fsyncs
 * both). rc negative, or any step failing: the temporary file is removed. Returns rc, or the
 * negative errno of the step that failed; *step (if not NULL) names it ("write", "chmod",
 * "fsync", "close", "rename") for messages. */
int fsx_atomic_commit(struct fsx_atomic *f, const char *path, mode_t mode, unsigned flags, int rc,
                      const char **step);

/* Replaces `path` with buf in one call. 0 or a negative errno. */
int fsx_write_file(const char *path, const void *buf, size_t len, mode_t mode, unsigned flags);

#endif
