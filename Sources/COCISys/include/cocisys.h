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

#endif
