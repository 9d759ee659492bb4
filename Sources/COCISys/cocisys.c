#define _GNU_SOURCE
#include "cocisys.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct ocisys_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

int ocisys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct ocisys_open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int ocisys_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int ocisys_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    long r = syscall(SYS_close_range, first, last, flags);
    if (r == 0 || errno != ENOSYS) return (int)r;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0) max = 1024;
    for (long fd = first; fd <= (long)last && fd < max; fd++) close((int)fd);
    return 0;
}

uint64_t ocisys_makedev(uint32_t major, uint32_t minor) { return makedev(major, minor); }
uint32_t ocisys_major(uint64_t dev) { return major(dev); }
uint32_t ocisys_minor(uint64_t dev) { return minor(dev); }

int ocisys_o_path(void) { return O_PATH; }
int ocisys_o_tmpfile(void) { return O_TMPFILE; }
int ocisys_at_empty_path(void) { return AT_EMPTY_PATH; }
int ocisys_at_symlink_nofollow(void) { return AT_SYMLINK_NOFOLLOW; }
int ocisys_at_removedir(void) { return AT_REMOVEDIR; }
