// Preflight probes: can this process create the namespaces and mounts a build phase needs?
//
// Each probe runs in its own forked child (so one failure does not hide the others) and reports through its
// exit status: 0 when the operation worked, else the errno of the first step that failed. The children use
// only async-signal-safe system calls (the caller is a multithreaded Swift process). Each maps the caller's
// own uid/gid as root of a fresh user namespace, which needs no privilege and no helper, so a failure means the
// operation itself is refused (seccomp, AppArmor, masked /proc, missing kernel feature), not the id mapping.
#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int put_file(const char *path, const char *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t w = write(fd, data, n);
    int e = w == (ssize_t)n ? 0 : (w < 0 ? errno : EIO);
    close(fd);
    return e;
}

// "0 <id> 1\n" without stdio.
static size_t map_line(char *buf, unsigned long id) {
    char digits[24];
    size_t n = 0, k = 0;
    do { digits[k++] = (char)('0' + id % 10); id /= 10; } while (id);
    buf[n++] = '0'; buf[n++] = ' ';
    while (k) buf[n++] = digits[--k];
    memcpy(buf + n, " 1\n", 3);
    return n + 3;
}

// Enters a new user namespace (plus `flags`) as root, mapping the caller's ids.
static int enter(int flags, uid_t uid, gid_t gid) {
    if (unshare(CLONE_NEWUSER | flags) != 0) return errno;
    char line[48];
    int e = put_file("/proc/self/setgroups", "deny", 4);
    if (e && e != ENOENT) return e;
    if ((e = put_file("/proc/self/uid_map", line, map_line(line, uid)))) return e;
    if ((e = put_file("/proc/self/gid_map", line, map_line(line, gid)))) return e;
    if ((flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return errno;
    return 0;
}

static int join(const char *a, const char *b, char *out, size_t n) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > n) return ENAMETOOLONG;
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return 0;
}

static int probe_body(int what, const char *scratch, uid_t uid, gid_t gid) {
    char p[4096], q[4096];
    int e;
    switch (what) {
    case CSANDBOX_PROBE_USERNS:
        return unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
    case CSANDBOX_PROBE_MOUNT:
        if ((e = enter(CLONE_NEWNS, uid, gid))) return e;
        if ((e = join(scratch, "/mnt", p, sizeof p))) return e;
        return mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0 ? 0 : errno;
    case CSANDBOX_PROBE_HOSTNAME:
        if ((e = enter(CLONE_NEWUTS, uid, gid))) return e;
        return sethostname("ociforge", 8) == 0 ? 0 : errno;
    case CSANDBOX_PROBE_PROC: {
        if ((e = enter(CLONE_NEWNS | CLONE_NEWPID, uid, gid))) return e;
        if ((e = join(scratch, "/proc", p, sizeof p))) return e;
        pid_t pid = fork();  // the first child is PID 1 of the new pid namespace, which proc describes
        if (pid < 0) return errno;
        if (pid == 0) _exit(mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0 ? 0 : errno);
        int st = 0;
        if (waitpid(pid, &st, 0) < 0) return errno;
        return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
    }
    case CSANDBOX_PROBE_OVERLAY: {
        if ((e = enter(CLONE_NEWNS, uid, gid))) return e;
        // The options the launcher uses (csandbox.c setup_root), on empty directories under `scratch`.
        if ((e = join(scratch, "/mnt", q, sizeof q))) return e;
        char o[3 * 4096 + 128];
        size_t n = 0;
        const char *parts[] = {"lowerdir=", "/lower", ",upperdir=", "/upper", ",workdir=", "/work",
                               ",redirect_dir=nofollow,index=off,metacopy=off,userxattr"};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            const char *s = parts[i];
            if (i % 2 == 1) {  // directory parts: under the scratch directory
                if ((e = join(scratch, s, p, sizeof p))) return e;
                s = p;
            }
            size_t l = strlen(s);
            if (n + l + 1 > sizeof o) return ENAMETOOLONG;
            memcpy(o + n, s, l);
            n += l;
        }
        o[n] = 0;
        return mount("overlay", q, "overlay", 0, o) == 0 ? 0 : errno;
    }
    default:
        return EINVAL;
    }
}

int csandbox_probe(int what, const char *scratch) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        int e = probe_body(what, scratch, uid, gid);
        _exit(e > 255 ? EIO : e);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}
