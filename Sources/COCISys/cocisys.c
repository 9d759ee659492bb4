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

// ---- Layer extraction helpers ----
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

int ocisys_mknodat(int dirfd, const char *name, unsigned int mode, uint64_t dev) {
    return mknodat(dirfd, name, (mode_t)mode, (dev_t)dev);
}

static int fd_path(char *buf, size_t size, int fd, const char *name) {
    int n;
    if (name == NULL || name[0] == 0) n = snprintf(buf, size, "/proc/self/fd/%d", fd);
    else n = snprintf(buf, size, "/proc/self/fd/%d/%s", fd, name);
    if (n < 0 || (size_t)n >= size) { errno = ENAMETOOLONG; return -1; }
    return 0;
}

int ocisys_linkat_fd(int fd, int newdirfd, const char *newname) {
    char p[64];
    if (fd_path(p, sizeof p, fd, NULL) != 0) return -1;
    int r = linkat(AT_FDCWD, p, newdirfd, newname, AT_SYMLINK_FOLLOW);
    if (r == 0 || (errno != ENOENT && errno != EPERM)) return r;
    return linkat(fd, "", newdirfd, newname, AT_EMPTY_PATH);
}

int ocisys_lsetxattr_at(int dirfd, const char *name, const char *xname, const void *value, size_t size) {
    char p[4200];
    if (fd_path(p, sizeof p, dirfd, name) != 0) return -1;
    if (name == NULL || name[0] == 0) return setxattr(p, xname, value, size, 0);
    return lsetxattr(p, xname, value, size, 0);
}

long ocisys_llistxattr_at(int dirfd, const char *name, char *list, size_t size) {
    char p[4200];
    if (fd_path(p, sizeof p, dirfd, name) != 0) return -1;
    if (name == NULL || name[0] == 0) return (long)listxattr(p, list, size);
    return (long)llistxattr(p, list, size);
}

long ocisys_lgetxattr_at(int dirfd, const char *name, const char *xname, void *value, size_t size) {
    char p[4200];
    if (fd_path(p, sizeof p, dirfd, name) != 0) return -1;
    if (name == NULL || name[0] == 0) return (long)getxattr(p, xname, value, size);
    return (long)lgetxattr(p, xname, value, size);
}

int ocisys_fsetxattr(int fd, const char *xname, const void *value, size_t size) {
    return fsetxattr(fd, xname, value, size, 0);
}

char *ocisys_read_dir_names(int dirfd, size_t *length) {
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) { int e = errno; close(fd); errno = e; return NULL; }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) { closedir(d); errno = ENOMEM; return NULL; }
    for (;;) {
        errno = 0;
        struct dirent *ent = readdir(d);
        if (ent == NULL) {
            if (errno != 0) { int e = errno; free(buf); closedir(d); errno = e; return NULL; }
            break;
        }
        const char *n = ent->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        size_t l = strlen(n) + 1;
        if (len + l > cap) {
            while (len + l > cap) cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) { free(buf); closedir(d); errno = ENOMEM; return NULL; }
            buf = nb;
        }
        memcpy(buf + len, n, l);
        len += l;
    }
    closedir(d);
    *length = len;
    return buf;
}

int ocisys_o_nofollow(void) { return O_NOFOLLOW; }
int ocisys_o_directory(void) { return O_DIRECTORY; }
int ocisys_o_nonblock(void) { return O_NONBLOCK; }
