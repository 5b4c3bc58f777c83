/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Whole-file reads and complete writes, the way every module needs them; and
 * the one way xcapd creates a file: never through a link someone planted,
 * never over a file that is there, private whatever the umask.
 */
#ifndef XCAP_FILE_H
#define XCAP_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads the whole file at path (a pipe too) into a malloc'd buffer with a NUL
 * after the data. 0, -EFBIG when larger than max bytes, or -errno.
 */
int xcap_file_read(const char *path, size_t max, char **out, size_t *len);
/* Writes all len bytes, going on after short writes and EINTR. 0 or -errno. */
int xcap_file_write_all(int fd, const void *buf, size_t len);

/*
 * Creates file `name` in the directory dirfd (AT_FDCWD: name is a path) for
 * writing: O_EXCL and O_NOFOLLOW, so that neither a file nor a symbolic link
 * standing there is written through (-EEXIST, -ELOOP); close-on-exec. The fd
 * or -errno.
 */
int xcap_file_create_at(int dirfd, const char *name, mode_t mode);
/*
 * Creates a temporary file ".PREFIX.<16 random hex>.tmp" in dirfd, mode
 * 0600: a name nobody can predict and plant a link at. The fd, or -errno;
 * the name goes to name.
 */
int xcap_file_create_temp(int dirfd, const char *prefix, char *name, size_t size);
/*
 * Renames tmp to name in dirfd, but never over an existing name (-EEXIST):
 * renameat2(RENAME_NOREPLACE), or a hard link where the file system lacks it.
 */
int xcap_file_rename_new(int dirfd, const char *tmp, const char *name);
/*
 * Gives the file at path the new name `name` in dirfd, by a hard link (same
 * file system only: -EXDEV) under a temporary name, then the rename above
 * (-EEXIST when name exists), then the folder synced. 0 or -errno.
 */
int xcap_file_link_new(const char *path, int dirfd, const char *name);
/*
 * Writes the new file `name` in dirfd as a whole: a temporary file that fill
 * writes, fsync, then the rename above (-EEXIST when name exists), then the
 * folder synced. A reader never sees half a file, and a crash leaves the
 * file whole or absent. 0 or -errno (fill's own error too).
 */
int xcap_file_put_new(int dirfd, const char *name, int (*fill)(int fd, const void *arg),
		      const void *arg);

#endif /* XCAP_FILE_H */
