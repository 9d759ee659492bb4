#ifndef OCIFORGE_COCISYS_H
#define OCIFORGE_COCISYS_H
#include <stdint.h>
#include <sys/types.h>

// Flags for ocisys_openat2 (mirror linux/openat2.h so Swift needs no kernel headers).
#define OCISYS_RESOLVE_NO_XDEV       0x01
#define OCISYS_RESOLVE_NO_MAGICLINKS 0x02
#define OCISYS_RESOLVE_NO_SYMLINKS   0x04
#define OCISYS_RESOLVE_BENEATH       0x08
#define OCISYS_RESOLVE_IN_ROOT       0x10

/// openat2(2): returns an fd or -1 with errno set (ENOSYS on kernels before 5.6).
int ocisys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// renameat2(2) with flags (RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2). -1/errno on failure.
int ocisys_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// close_range(2); falls back to a close() loop where the syscall is missing.
int ocisys_close_range(unsigned int first, unsigned int last, unsigned int flags);

/// makedev/major/minor are macros in glibc.
uint64_t ocisys_makedev(uint32_t major, uint32_t minor);
uint32_t ocisys_major(uint64_t dev);
uint32_t ocisys_minor(uint64_t dev);

/// O_PATH, O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, O_TMPFILE and AT_* as plain values.
int ocisys_o_path(void);
int ocisys_o_tmpfile(void);
int ocisys_at_empty_path(void);
int ocisys_at_symlink_nofollow(void);
int ocisys_at_removedir(void);

// ---- Layer extraction helpers (every operation relative to a directory fd) ----

/// mknodat(2) (FIFOs and device nodes).
int ocisys_mknodat(int dirfd, const char *name, unsigned int mode, uint64_t dev);

/// Hard-link the file open as `fd` (an O_PATH fd is fine) to `newname` in `newdirfd`, without resolving any
/// path string: linkat through /proc/self/fd/N (AT_SYMLINK_FOLLOW), falling back to AT_EMPTY_PATH.
int ocisys_linkat_fd(int fd, int newdirfd, const char *newname);

/// Extended attributes of `name` in `dirfd`, never following a symlink at `name`.
/// `name` NULL or "" means the file open as `dirfd` itself. Implemented through /proc/self/fd/N.
int ocisys_lsetxattr_at(int dirfd, const char *name, const char *xname, const void *value, size_t size);
long ocisys_llistxattr_at(int dirfd, const char *name, char *list, size_t size);
long ocisys_lgetxattr_at(int dirfd, const char *name, const char *xname, void *value, size_t size);
/// fsetxattr(2) on a regular (non O_PATH) fd.
int ocisys_fsetxattr(int fd, const char *xname, const void *value, size_t size);

/// The names in directory `dirfd` (without "." and ".."), NUL-separated, in a malloc'd buffer the caller
/// frees; `*length` is the buffer length. NULL with errno on failure (an empty directory gives a non-NULL
/// buffer with length 0). `dirfd` itself is not closed.
char *ocisys_read_dir_names(int dirfd, size_t *length);

/// Plain values of O_* / S_* flags Swift imports awkwardly.
int ocisys_o_nofollow(void);
int ocisys_o_directory(void);
int ocisys_o_nonblock(void);

#endif
