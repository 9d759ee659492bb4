// Namespace launcher for ociforge build phases.
//
// Runs from an ELF constructor, before the Swift runtime starts any thread, when the environment holds
// OCIFORGE_SANDBOX_LAUNCHER=1. Process tree:
//   outer (host namespaces)  - reads the spec, writes the uid/gid maps of A, enforces the timeout, watches
//                              the parent (EOF on the spec fd) and kills A on timeout/parent death/SIGTERM.
//   A (new user, mount, pid, uts, ipc [, net] namespaces) - becomes root in the namespace, forks B.
//   B (PID 1 of the new pid namespace) - mounts the root (overlay), /proc, /dev, /sys, files, caches and
//                              secrets, resolving every target in-root with openat2, pivot_root, forks C,
//                              reaps and forwards signals, kills the namespace when C exits.
//   C - closes inherited fds, verifies the cwd, sets rlimits, ids, drops capabilities, no_new_privs, execs.
// A and B die with their parent (PR_SET_PDEATHSIG); when B (PID 1) dies the kernel kills the pid namespace.
// Setup failures are reported as `ERR <stage> <errno> <detail>` lines on the status fd (O_CLOEXEC).
#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

extern char **environ;

int csandbox_version(void) { return 3; }

int csandbox_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int csandbox_in_initial_userns(void) {
    int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = 0;
    unsigned long a, b, c;
    if (sscanf(buf, "%lu %lu %lu", &a, &b, &c) != 3) return 0;
    return a == 0 && b == 0 && c == 4294967295UL;
}

pid_t csandbox_spawn(const char *path, char *const argv[], char *const envp[],
                     int stdin_fd, int stdout_fd, int stderr_fd, int spec_fd, int status_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    // dup2 onto the target numbers; dup2 clears O_CLOEXEC on the copy. Move sources out of 0..4 first so
    // a source numbered like an earlier target is not clobbered.
    int src[5] = {stdin_fd, stdout_fd, stderr_fd, spec_fd, status_fd};
    for (int i = 0; i < 5; i++) posix_spawn_file_actions_adddup2(&fa, src[i], 100 + i);
    for (int i = 0; i < 5; i++) posix_spawn_file_actions_adddup2(&fa, 100 + i, i);
    for (int i = 0; i < 5; i++) posix_spawn_file_actions_addclose(&fa, 100 + i);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc == 0 ? pid : -rc;
}

// ---------------------------------------------------------------------------------------------------------
// Spec

#define MAX_ITEMS 512

struct spec {
    const char *mode;            // "map" | "newuidmap" | "single"
    const char *uidmap[16]; int n_uidmap;
    const char *gidmap[16]; int n_gidmap;
    const char *net;             // "host" | "none"
    const char *hostname;
    const char *root;            // merged mount point; NULL = run on the host filesystem (helper mode)
    const char *lower[64]; int n_lower;
    const char *upper, *work, *ovlopt, *bindroot;
    const char *rofile[16]; int n_rofile;   // "SRC\nTARGET"
    const char *cache[32]; int n_cache;     // "SRC\nTARGET"
    const char *secret[32]; int n_secret;   // "NAME\nCONTENT"
    const char *tmpfs[32]; int n_tmpfs;     // "TARGET\nSIZE" (bytes, 0 = the kernel's default)
    const char *file[64]; int n_file;       // "TARGET\nMODE(octal)\nUID\nGID\nCONTENT"
    char *env[MAX_ITEMS]; int n_env;
    char *arg[MAX_ITEMS]; int n_arg;
    const char *cwd;
    unsigned long uid, gid;
    unsigned long timeout;
    unsigned long nproc, nofile;
    int forward;                 // forward SIGINT/SIGTERM instead of killing
    int allcaps;                 // keep every capability (helper mode: extraction, removal, diff)
};

static struct spec S;
static int status_fd = CSANDBOX_STATUS_FD;

static void report(const char *fmt, ...) {
    char buf[3900];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    for (int i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = ' ';
    buf[n++] = '\n';
    ssize_t w = write(status_fd, buf, n);
    (void)w;
}

static void fail(const char *stage, const char *detail) {
    int e = errno;
    char st[128];
    snprintf(st, sizeof st, "%s", stage);
    for (char *c = st; *c; c++) if (*c == ' ') *c = '_';
    report("ERR %s %d %s", st, e, detail ? detail : "");
    _exit(125);
}

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += r;
    }
    return 0;
}

#define PUSH(arr, n, cap, v) do { if ((n) >= (cap)) { errno = E2BIG; fail("spec", #arr); } (arr)[(n)++] = (v); } while (0)

static void parse_spec(void) {
    unsigned char lenb[4];
    if (read_full(CSANDBOX_SPEC_FD, lenb, 4) != 0) fail("spec", "cannot read length");
    uint32_t len = lenb[0] | (lenb[1] << 8) | (lenb[2] << 16) | ((uint32_t)lenb[3] << 24);
    if (len > (64u << 20)) { errno = E2BIG; fail("spec", "too large"); }
    char *buf = malloc(len + 1);
    if (!buf) fail("spec", "malloc");
    if (read_full(CSANDBOX_SPEC_FD, buf, len) != 0) fail("spec", "truncated");
    buf[len] = 0;
    S.net = "host";
    S.mode = "map";
    S.nproc = 0; S.nofile = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *k = p; p += strlen(p) + 1;
        if (p > end) { errno = EINVAL; fail("spec", "key without value"); }
        char *v = p; p += strlen(p) + 1;
        if (p > end + 1) { errno = EINVAL; fail("spec", "unterminated value"); }
        if (!strcmp(k, "mode")) S.mode = v;
        else if (!strcmp(k, "uidmap")) PUSH(S.uidmap, S.n_uidmap, 16, v);
        else if (!strcmp(k, "gidmap")) PUSH(S.gidmap, S.n_gidmap, 16, v);
        else if (!strcmp(k, "net")) S.net = v;
        else if (!strcmp(k, "hostname")) S.hostname = v;
        else if (!strcmp(k, "root")) S.root = v;
        else if (!strcmp(k, "lower")) PUSH(S.lower, S.n_lower, 64, v);
        else if (!strcmp(k, "upper")) S.upper = v;
        else if (!strcmp(k, "work")) S.work = v;
        else if (!strcmp(k, "ovlopt")) S.ovlopt = v;
        else if (!strcmp(k, "bindroot")) S.bindroot = v;
        else if (!strcmp(k, "rofile")) PUSH(S.rofile, S.n_rofile, 16, v);
        else if (!strcmp(k, "cache")) PUSH(S.cache, S.n_cache, 32, v);
        else if (!strcmp(k, "secret")) PUSH(S.secret, S.n_secret, 32, v);
        else if (!strcmp(k, "tmpfs")) PUSH(S.tmpfs, S.n_tmpfs, 32, v);
        else if (!strcmp(k, "file")) PUSH(S.file, S.n_file, 64, v);
        else if (!strcmp(k, "env")) PUSH(S.env, S.n_env, MAX_ITEMS - 1, v);
        else if (!strcmp(k, "arg")) PUSH(S.arg, S.n_arg, MAX_ITEMS - 1, v);
        else if (!strcmp(k, "cwd")) S.cwd = v;
        else if (!strcmp(k, "uid")) S.uid = strtoul(v, NULL, 10);
        else if (!strcmp(k, "gid")) S.gid = strtoul(v, NULL, 10);
        else if (!strcmp(k, "timeout")) S.timeout = strtoul(v, NULL, 10);
        else if (!strcmp(k, "nproc")) S.nproc = strtoul(v, NULL, 10);
        else if (!strcmp(k, "nofile")) S.nofile = strtoul(v, NULL, 10);
        else if (!strcmp(k, "forward")) S.forward = v[0] == '1';
        else if (!strcmp(k, "allcaps")) S.allcaps = v[0] == '1';
        else { errno = EINVAL; fail("spec", k); }
    }
    S.env[S.n_env] = NULL;
    S.arg[S.n_arg] = NULL;
    if (S.n_arg == 0) { errno = EINVAL; fail("spec", "no command"); }
}

// ---------------------------------------------------------------------------------------------------------
// Signals

static volatile sig_atomic_t got_signal = 0;
static volatile pid_t forward_to = 0;

static void on_signal(int sig) {
    got_signal = sig;
    if (forward_to > 0) kill(forward_to, sig);
}

static void install_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void reset_handlers(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void die_with_parent(pid_t expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("pdeathsig", NULL);
    if (getppid() != expected_parent) _exit(125);
}

// ---------------------------------------------------------------------------------------------------------
// Mounts (in B)

static long sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static int rootfd = -1;

// Resolves `path` (absolute, inside the new root) to an O_PATH fd of the expected type, creating the last
// component (a directory or an empty file) when missing. Symlinks anywhere on the path fail with ELOOP.
// Returns -1 with errno set; never follows anything outside the root.
static int resolve_target(const char *path, mode_t type, int create) {
    int fd = (int)sys_openat2(rootfd, path, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, IN_ROOT);
    if (fd < 0 && errno == ENOENT && create) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", path);
        char *slash = strrchr(parent, '/');
        if (!slash || !slash[1]) { errno = EINVAL; return -1; }
        const char *name = slash + 1;
        char nm[256];
        snprintf(nm, sizeof nm, "%s", name);
        if (slash == parent) strcpy(parent, "/"); else *slash = 0;
        int pfd = (int)sys_openat2(rootfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
        if (pfd < 0) return -1;
        int rc;
        if (type == S_IFDIR) rc = mkdirat(pfd, nm, 0755);
        else {
            rc = openat(pfd, nm, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (rc >= 0) { close(rc); rc = 0; }
        }
        close(pfd);
        if (rc != 0 && errno != EEXIST) return -1;
        fd = (int)sys_openat2(rootfd, path, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, IN_ROOT);
    }
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return -1; }
    if ((st.st_mode & S_IFMT) != type) {
        close(fd);
        errno = type == S_IFDIR ? ENOTDIR : EISDIR;
        return -1;
    }
    return fd;
}

static void fdpath(char *out, size_t n, int fd) { snprintf(out, n, "/proc/self/fd/%d", fd); }

static void mount_at(const char *what, const char *src, int fd, const char *fstype, unsigned long flags,
                     const char *data) {
    char p[64];
    fdpath(p, sizeof p, fd);
    if (mount(src, p, fstype, flags, data) != 0) fail("mount", what);
}

static void bind_ro(const char *what, const char *src, int fd, unsigned long extra, int rec) {
    char p[64];
    fdpath(p, sizeof p, fd);
    // In a user namespace a mount with (locked) submounts can only be bound recursively.
    if (mount(src, p, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) != 0) fail("bind", what);
    // The fd still names the covered inode: reopen the path to reach the new mount.
    int top = (int)sys_openat2(rootfd, what, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, IN_ROOT);
    if (top < 0) fail("reopen", what);
    fdpath(p, sizeof p, top);
    // Remount the bind read-only; flags locked by the host mount (nosuid/nodev/noexec) must be kept.
    unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | extra;
    if (mount(NULL, p, NULL, fl, NULL) != 0) {
        fl |= MS_NOSUID | MS_NODEV;
        if (mount(NULL, p, NULL, fl, NULL) != 0) {
            fl |= MS_NOEXEC;
            if (mount(NULL, p, NULL, fl, NULL) != 0) fail("remount-ro", what);
        }
    }
    close(top);
}

static void setup_dev(void) {
    int d = resolve_target("/dev", S_IFDIR, 1);
    if (d < 0) fail("resolve", "/dev (must be a directory, not a symlink)");
    mount_at("/dev", "tmpfs", d, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
    close(d);
    int dev = (int)sys_openat2(rootfd, "/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
    if (dev < 0) fail("open", "/dev tmpfs");
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        int f = openat(dev, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (f < 0) fail("create /dev node", nodes[i]);
        close(f);
        f = openat(dev, nodes[i], O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (f < 0) fail("open /dev node", nodes[i]);
        char host[64];
        snprintf(host, sizeof host, "/dev/%s", nodes[i]);
        char p[64];
        fdpath(p, sizeof p, f);
        if (mount(host, p, NULL, MS_BIND, NULL) != 0) fail("bind /dev node", nodes[i]);
        close(f);
    }
    if (mkdirat(dev, "pts", 0755) != 0) fail("mkdir", "/dev/pts");
    if (mkdirat(dev, "shm", 01777) != 0) fail("mkdir", "/dev/shm");
    int f = openat(dev, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0) fail("open", "/dev/pts");
    mount_at("/dev/pts", "devpts", f, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    close(f);
    f = openat(dev, "shm", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0) fail("open", "/dev/shm");
    mount_at("/dev/shm", "shm", f, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    close(f);
    if (symlinkat("pts/ptmx", dev, "ptmx") != 0) fail("symlink", "/dev/ptmx");
    if (symlinkat("/proc/self/fd", dev, "fd") != 0) fail("symlink", "/dev/fd");
    if (symlinkat("/proc/self/fd/0", dev, "stdin") != 0) fail("symlink", "/dev/stdin");
    if (symlinkat("/proc/self/fd/1", dev, "stdout") != 0) fail("symlink", "/dev/stdout");
    if (symlinkat("/proc/self/fd/2", dev, "stderr") != 0) fail("symlink", "/dev/stderr");
    close(dev);
}

static void split2(const char *item, char *a, size_t na, const char **b) {
    const char *nl = strchr(item, '\n');
    if (!nl) { errno = EINVAL; fail("spec", item); }
    size_t l = (size_t)(nl - item);
    if (l >= na) { errno = ENAMETOOLONG; fail("spec", item); }
    memcpy(a, item, l);
    a[l] = 0;
    *b = nl + 1;
}

static void setup_secrets(void) {
    if (S.n_secret == 0) return;
    int run = resolve_target("/run", S_IFDIR, 1);
    if (run < 0) fail("resolve", "/run (must be a directory)");
    close(run);
    int d = resolve_target("/run/secrets", S_IFDIR, 1);
    if (d < 0) fail("resolve", "/run/secrets");
    mount_at("/run/secrets", "secrets", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=4096k");
    close(d);
    int dir = (int)sys_openat2(rootfd, "/run/secrets", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
    if (dir < 0) fail("open", "/run/secrets");
    for (int i = 0; i < S.n_secret; i++) {
        char name[256];
        const char *content;
        split2(S.secret[i], name, sizeof name, &content);
        if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") || !name[0]) {
            errno = EINVAL; fail("secret name", name);
        }
        int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0400);
        if (f < 0) fail("create secret", name);
        if (write_full(f, content, strlen(content)) != 0) fail("write secret", name);
        if (fchown(f, S.uid, S.gid) != 0) fail("chown secret", name);
        close(f);
    }
    close(dir);
    char p[64];
    int f = (int)sys_openat2(rootfd, "/run/secrets", O_PATH | O_CLOEXEC, 0, IN_ROOT);
    if (f < 0) fail("open", "/run/secrets");
    fdpath(p, sizeof p, f);
    if (mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        fail("remount-ro", "/run/secrets");
    close(f);
}

// Creates the missing parent directories of `path` (absolute, inside the new root; 0755, owned by the
// namespace's root), never following a symlink. Returns 0 or -1 with errno set.
static int make_parents(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *last = strrchr(buf, '/');
    if (!last || last == buf) return 0;
    *last = 0;
    int cur = (int)sys_openat2(rootfd, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
    if (cur < 0) return -1;
    char *save = NULL;
    for (char *c = strtok_r(buf + 1, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".") || !strcmp(c, "..")) { close(cur); errno = EINVAL; return -1; }
        int next = (int)sys_openat2(cur, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(cur, c, 0755) != 0 && errno != EEXIST) { close(cur); return -1; }
            next = (int)sys_openat2(cur, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        }
        close(cur);
        if (next < 0) return -1;
        cur = next;
    }
    close(cur);
    return 0;
}

// tmpfs mounts at their targets (RUN --mount=type=tmpfs): mode 1777 like a fresh tmpfs, nosuid, optional size.
static void setup_tmpfs(void) {
    for (int i = 0; i < S.n_tmpfs; i++) {
        char target[4096];
        const char *size;
        split2(S.tmpfs[i], target, sizeof target, &size);
        if (target[0] != '/') { errno = EINVAL; fail("tmpfs target", target); }
        if (make_parents(target) != 0) fail("create the parents of the tmpfs target", target);
        int t = resolve_target(target, S_IFDIR, 1);
        if (t < 0) fail("resolve tmpfs target (must be a directory, not a symlink)", target);
        char data[64];
        unsigned long long n = strtoull(size, NULL, 10);
        if (n) snprintf(data, sizeof data, "mode=1777,size=%llu", n);
        else snprintf(data, sizeof data, "mode=1777");
        mount_at(target, "tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, data);
        close(t);
    }
}

// Files from the spec (secrets at any path, RUN heredoc scripts): written to a private staging tmpfs with their
// mode and owner, each bind-mounted read-only onto its target (created when missing, never through a symlink),
// then the staging mount is detached (the binds keep it alive). Nothing reaches the overlay upper but the
// mount point a missing target needs.
static void setup_files(void) {
    if (S.n_file == 0) return;
    int dev = (int)sys_openat2(rootfd, "/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
    if (dev < 0) fail("open", "/dev");
    if (mkdirat(dev, ".ociforge-files", 0700) != 0) fail("mkdir", "/dev/.ociforge-files");
    int sd = openat(dev, ".ociforge-files", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (sd < 0) fail("open", "/dev/.ociforge-files");
    mount_at("/dev/.ociforge-files", "files", sd, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700");
    close(sd);
    int stage = (int)sys_openat2(rootfd, "/dev/.ociforge-files", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
    if (stage < 0) fail("open", "/dev/.ociforge-files tmpfs");
    for (int i = 0; i < S.n_file; i++) {
        // TARGET\nMODE\nUID\nGID\nCONTENT
        char target[4096], mode_s[32], uid_s[32], gid_s[32];
        const char *rest, *content;
        split2(S.file[i], target, sizeof target, &rest);
        split2(rest, mode_s, sizeof mode_s, &rest);
        split2(rest, uid_s, sizeof uid_s, &rest);
        split2(rest, gid_s, sizeof gid_s, &content);
        if (target[0] != '/' || !target[1]) { errno = EINVAL; fail("file target", target); }
        mode_t mode = (mode_t)strtoul(mode_s, NULL, 8) & 07777;
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        int f = openat(stage, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (f < 0) fail("create file", target);
        if (write_full(f, content, strlen(content)) != 0) fail("write file", target);
        if (fchown(f, (uid_t)strtoul(uid_s, NULL, 10), (gid_t)strtoul(gid_s, NULL, 10)) != 0) fail("chown file", target);
        if (fchmod(f, mode) != 0) fail("chmod file", target);
        close(f);
        int src = openat(stage, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (src < 0) fail("open file", target);
        if (make_parents(target) != 0) fail("create the parents of the file target", target);
        int t = resolve_target(target, S_IFREG, 1);
        if (t < 0) fail("resolve file target (must be a regular file or missing, not a symlink)", target);
        char sp[64], tp[64];
        fdpath(sp, sizeof sp, src);
        fdpath(tp, sizeof tp, t);
        if (mount(sp, tp, NULL, MS_BIND, NULL) != 0) fail("bind file", target);
        close(t);
        close(src);
        t = (int)sys_openat2(rootfd, target, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, IN_ROOT);
        if (t < 0) fail("reopen", target);
        fdpath(tp, sizeof tp, t);
        if (mount(NULL, tp, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) fail("remount-ro file", target);
        close(t);
    }
    close(stage);
    int m = (int)sys_openat2(rootfd, "/dev/.ociforge-files", O_PATH | O_CLOEXEC, 0, IN_ROOT);
    if (m < 0) fail("open", "/dev/.ociforge-files");
    char mp[64];
    fdpath(mp, sizeof mp, m);
    if (umount2(mp, MNT_DETACH) != 0) fail("detach", "/dev/.ociforge-files");
    close(m);
    if (unlinkat(dev, ".ociforge-files", AT_REMOVEDIR) != 0) fail("rmdir", "/dev/.ociforge-files");
    close(dev);
}

// Remounts read-only every mount below `prefix` (the recursive /sys bind brings the host's cgroup, bpf,
// debugfs... submounts along; they stay locked but must not be writable). Flags the host locked are kept.
static void remount_submounts_ro(const char *prefix) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) fail("open", "/proc/self/mountinfo");
    size_t plen = strlen(prefix);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        // id parent major:minor root mountpoint options ...
        char *save = NULL, *fields[6] = {0};
        char *t = strtok_r(line, " ", &save);
        for (int i = 0; t && i < 6; i++) { fields[i] = t; t = strtok_r(NULL, " ", &save); }
        if (!fields[5]) continue;
        const char *mp = fields[4], *opts = fields[5];
        if (strncmp(mp, prefix, plen) != 0 || mp[plen] != '/') continue;
        if (strstr(mp, "\\")) continue;  // escaped names never occur under /sys
        unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY;
        if (strstr(opts, "nosuid")) fl |= MS_NOSUID;
        if (strstr(opts, "nodev")) fl |= MS_NODEV;
        if (strstr(opts, "noexec")) fl |= MS_NOEXEC;
        if (strstr(opts, "noatime")) fl |= MS_NOATIME;
        if (strstr(opts, "nodiratime")) fl |= MS_NODIRATIME;
        if (mount(NULL, mp, NULL, fl, NULL) != 0 &&
            mount(NULL, mp, NULL, fl | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
            fclose(f);
            fail("remount-ro", mp);
        }
    }
    fclose(f);
}

static int sys_pivot_root(const char *n, const char *o) { return (int)syscall(SYS_pivot_root, n, o); }

static void setup_root(void) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("make-private", "/");
    if (S.n_lower > 0) {
        // lowerdir=top:...:bottom
        size_t cap = 256 + strlen(S.upper ? S.upper : "") + strlen(S.work ? S.work : "");
        for (int i = 0; i < S.n_lower; i++) cap += strlen(S.lower[i]) + 1;
        char *opts = malloc(cap + 128);
        if (!opts) fail("malloc", NULL);
        strcpy(opts, "lowerdir=");
        for (int i = 0; i < S.n_lower; i++) {
            if (i) strcat(opts, ":");
            strcat(opts, S.lower[i]);
        }
        strcat(opts, ",upperdir="); strcat(opts, S.upper);
        strcat(opts, ",workdir="); strcat(opts, S.work);
        strcat(opts, ",redirect_dir=nofollow,index=off,metacopy=off");
        if (S.ovlopt && S.ovlopt[0]) { strcat(opts, ","); strcat(opts, S.ovlopt); }
        if (mount("overlay", S.root, "overlay", 0, opts) != 0) fail("mount overlay", opts);
    } else if (S.bindroot) {
        if (mount(S.bindroot, S.root, NULL, MS_BIND | MS_REC, NULL) != 0) fail("bind root", S.bindroot);
    } else { errno = EINVAL; fail("spec", "root without lower or bindroot"); }
    rootfd = open(S.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) fail("open root", S.root);

    int fd = resolve_target("/proc", S_IFDIR, 1);
    if (fd < 0) fail("resolve", "/proc (must be a directory, not a symlink)");
    mount_at("/proc", "proc", fd, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    close(fd);

    setup_dev();

    fd = resolve_target("/sys", S_IFDIR, 1);
    if (fd < 0) fail("resolve", "/sys (must be a directory, not a symlink)");
    if (!strcmp(S.net, "none")) {
        mount_at("/sys", "sysfs", fd, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    } else {
        bind_ro("/sys", "/sys", fd, MS_NOSUID | MS_NODEV | MS_NOEXEC, 1);
        char sys[4096];
        snprintf(sys, sizeof sys, "%s/sys", S.root);
        remount_submounts_ro(sys);
    }
    close(fd);

    for (int i = 0; i < S.n_rofile; i++) {
        char src[4096];
        const char *target;
        split2(S.rofile[i], src, sizeof src, &target);
        int t = resolve_target(target, S_IFREG, 1);
        if (t < 0) {
            // A symlink (or anything else) here could point at a host path: never mount through it.
            report("WARN not mounting %s: %s (left as the image has it)", target, strerror(errno));
            continue;
        }
        bind_ro(target, src, t, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
        close(t);
    }
    for (int i = 0; i < S.n_cache; i++) {
        char src[4096];
        const char *target;
        split2(S.cache[i], src, sizeof src, &target);
        int t = resolve_target(target, S_IFDIR, 1);
        if (t < 0) fail("resolve cache target (must be a directory, not a symlink)", target);
        char p[64];
        fdpath(p, sizeof p, t);
        if (mount(src, p, NULL, MS_BIND, NULL) != 0) fail("bind cache", target);
        close(t);
        t = (int)sys_openat2(rootfd, target, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, IN_ROOT);
        if (t < 0) fail("reopen", target);
        fdpath(p, sizeof p, t);
        if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL) != 0) fail("remount cache", target);
        close(t);
    }
    setup_tmpfs();
    setup_files();
    setup_secrets();

    if (chdir(S.root) != 0) fail("chdir", S.root);
    if (sys_pivot_root(".", ".") != 0) fail("pivot_root", S.root);
    if (umount2(".", MNT_DETACH) != 0) fail("detach old root", NULL);
    if (chdir("/") != 0) fail("chdir", "/");
    close(rootfd);
    rootfd = -1;
}

// ---------------------------------------------------------------------------------------------------------
// C: the command

// Capabilities a build step needs as root in its namespace (the usual container default set, without
// CAP_MKNOD, CAP_NET_RAW and CAP_SYS_ADMIN): no mount, no device nodes.
static uint64_t keep_mask(void) {
    static const int keep[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_SETGID, CAP_SETUID,
                               CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
                               CAP_AUDIT_WRITE};
    uint64_t mask = 0;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) mask |= 1ULL << keep[i];
    return mask;
}

// Bounding set first, while still root with CAP_SETPCAP (before any uid change).
static void drop_bounding(void) {
    uint64_t mask = keep_mask();
    int last = CAP_LAST_CAP;
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char b[16] = {0};
        if (read(fd, b, sizeof b - 1) > 0) last = atoi(b);
        close(fd);
    }
    for (int c = 0; c <= last; c++) {
        if (mask & (1ULL << c)) continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) fail("drop bounding cap", NULL);
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// After the uid change: root keeps the build set, any other uid keeps nothing.
static void set_caps(void) {
    uint64_t mask = keep_mask();
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (S.uid == 0) {
        d[0].effective = d[0].permitted = (uint32_t)mask;
        d[1].effective = d[1].permitted = (uint32_t)(mask >> 32);
    }
    if (syscall(SYS_capset, &h, d) != 0) fail("capset", NULL);
}

static void run_command(void) {
    reset_handlers();
    if (setsid() < 0) fail("setsid", NULL);
    // Every inherited descriptor except 0-2 goes at exec (the status fd stays usable until then).
    if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) != 0) {
        for (int fd = 3; fd < 65536; fd++) if (fd != status_fd) close(fd);
        fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    }
    const char *cwd = S.cwd && S.cwd[0] ? S.cwd : "/";
    if (chdir(cwd) != 0) fail("chdir", cwd);
    char buf[4096];
    if (!getcwd(buf, sizeof buf) || buf[0] != '/') { errno = EPERM; fail("cwd outside root", cwd); }
    if (S.nproc) {
        struct rlimit rl = {S.nproc, S.nproc};
        if (setrlimit(RLIMIT_NPROC, &rl) != 0) fail("rlimit nproc", NULL);
    }
    if (S.nofile) {
        struct rlimit cur;
        getrlimit(RLIMIT_NOFILE, &cur);
        rlim_t v = S.nofile < cur.rlim_max ? S.nofile : cur.rlim_max;
        struct rlimit rl = {v, v};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("rlimit nofile", NULL);
    }
    // A fresh anonymous session keyring: the command cannot reach keys of the host session.
    if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 && errno != ENOSYS)
        report("WARN no private session keyring: %s", strerror(errno));
    gid_t g = (gid_t)S.gid;
    // EPERM: setgroups is denied in this namespace (single-id maps, inherited from a parent namespace).
    if (strcmp(S.mode, "single") != 0 && setgroups(1, &g) != 0 && errno != EPERM) fail("setgroups", NULL);
    if (setresgid(g, g, g) != 0) fail("setresgid", NULL);
    if (!S.allcaps) drop_bounding();
    if (setresuid(S.uid, S.uid, S.uid) != 0) fail("setresuid", NULL);
    if (!S.allcaps) {
        set_caps();
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs", NULL);
    }
    environ = S.env;
    execvp(S.arg[0], S.arg);
    fail("exec", S.arg[0]);
}

// ---------------------------------------------------------------------------------------------------------
// B: PID 1

static void pid1(void) {
    die_with_parent(0);  // the parent is outside this pid namespace: getppid() is 0
    if (S.hostname && S.hostname[0] && sethostname(S.hostname, strlen(S.hostname)) != 0) fail("sethostname", NULL);
    if (S.root) setup_root();
    else {
        // Helper mode on the host filesystem: private propagation, and a /proc of this pid namespace so
        // pids seen by the command (e.g. a re-executed ociforge writing its children's uid maps) are right.
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("make-private", "/");
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mount", "/proc");
    }
    install_handlers();
    pid_t c = fork();
    if (c < 0) fail("fork command", NULL);
    if (c == 0) run_command();
    forward_to = c;
    int cmd_status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (w == c) {
            cmd_status = st;
            forward_to = 0;
            kill(-1, SIGKILL);  // everything left in the namespace
        }
    }
    report("CMD %d", cmd_status);
    _exit(0);
}

// ---------------------------------------------------------------------------------------------------------
// A: the namespaced child

static void child_a(pid_t outer, int to_parent, int from_parent) {
    die_with_parent(outer);
    // The parent writes our uid/gid maps through /proc/<pid>/: when this binary's owner is not mapped in
    // the current user namespace (rootless re-execution) the kernel marked us non-dumpable, which makes
    // those files owned by an unmapped root. Dumpable again until the credentials change below.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (!strcmp(S.net, "none")) flags |= CLONE_NEWNET;
    if (unshare(flags) != 0) fail("unshare", "user/mount/pid/uts/ipc namespaces");
    char b = 'u';
    if (write(to_parent, &b, 1) != 1) _exit(125);
    if (read(from_parent, &b, 1) != 1 || b != 'g') _exit(125);  // the parent failed and reported
    close(to_parent);
    close(from_parent);
    if (setresgid(0, 0, 0) != 0) fail("setresgid", "namespace root");
    if (setresuid(0, 0, 0) != 0) fail("setresuid", "namespace root");
    die_with_parent(outer);  // changing credentials cleared it
    install_handlers();
    pid_t b_pid = fork();
    if (b_pid < 0) fail("fork pid1", NULL);
    if (b_pid == 0) pid1();
    forward_to = b_pid;
    int st;
    while (waitpid(b_pid, &st, 0) < 0 && errno == EINTR) {}
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
}

// ---------------------------------------------------------------------------------------------------------
// outer

static int write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write_full(fd, data, strlen(data));
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static void run_mapper(const char *tool, pid_t pid, const char **items, int n) {
    char *argv[3 * 16 + 3];
    char pidbuf[32];
    static char store[16][3][32];
    int k = 0;
    argv[k++] = (char *)tool;
    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    argv[k++] = pidbuf;
    for (int i = 0; i < n; i++) {
        unsigned long a, b, c;
        if (sscanf(items[i], "%lu %lu %lu", &a, &b, &c) != 3) { errno = EINVAL; fail("spec", items[i]); }
        snprintf(store[i][0], 32, "%lu", a);
        snprintf(store[i][1], 32, "%lu", b);
        snprintf(store[i][2], 32, "%lu", c);
        argv[k++] = store[i][0];
        argv[k++] = store[i][1];
        argv[k++] = store[i][2];
    }
    argv[k] = NULL;
    pid_t p = fork();
    if (p < 0) fail("fork", tool);
    if (p == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(2, 1);
        static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        execve(tool, argv, envp);
        char alt[64];
        snprintf(alt, sizeof alt, "/usr/bin/%s", strrchr(tool, '/') ? strrchr(tool, '/') + 1 : tool);
        execve(alt, argv, envp);
        _exit(127);
    }
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { errno = EPERM; fail("id map", tool); }
}

static void write_maps(pid_t a) {
    char path[64], buf[1024];
    if (!strcmp(S.mode, "newuidmap")) {
        run_mapper("/usr/bin/newuidmap", a, S.uidmap, S.n_uidmap);
        run_mapper("/usr/bin/newgidmap", a, S.gidmap, S.n_gidmap);
        return;
    }
    if (!strcmp(S.mode, "single")) {
        snprintf(path, sizeof path, "/proc/%d/setgroups", a);
        if (write_file(path, "deny") != 0) fail("write setgroups", path);
    }
    buf[0] = 0;
    for (int i = 0; i < S.n_uidmap; i++) { strncat(buf, S.uidmap[i], 900 - strlen(buf)); strcat(buf, "\n"); }
    snprintf(path, sizeof path, "/proc/%d/uid_map", a);
    if (write_file(path, buf) != 0) fail("write uid_map", buf);
    buf[0] = 0;
    for (int i = 0; i < S.n_gidmap; i++) { strncat(buf, S.gidmap[i], 900 - strlen(buf)); strcat(buf, "\n"); }
    snprintf(path, sizeof path, "/proc/%d/gid_map", a);
    if (write_file(path, buf) != 0) fail("write gid_map", buf);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int launcher_main(void) {
    // Nothing the parent leaked (descriptors without O_CLOEXEC) reaches the namespaces, not even PID 1.
    if (syscall(SYS_close_range, 5, ~0U, 0) != 0) for (int fd = 5; fd < 65536; fd++) close(fd);
    if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    fcntl(CSANDBOX_SPEC_FD, F_SETFD, FD_CLOEXEC);
    parse_spec();
    install_handlers();
    // The phase's files never depend on the caller's umask: mount points made here and the command's own files get
    // what a container runtime gives (0022), as in Docker and BuildKit.
    umask(022);
    int up[2], down[2];
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) fail("pipe", NULL);
    pid_t self = getpid();
    pid_t a = fork();
    if (a < 0) fail("fork", NULL);
    if (a == 0) {
        close(up[0]);
        close(down[1]);
        child_a(self, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    char b;
    if (read(up[0], &b, 1) != 1) {
        int st;
        waitpid(a, &st, 0);
        report("DONE %d", st);
        return 0;
    }
    write_maps(a);  // on failure: reports and exits; A sees EOF and exits
    b = 'g';
    if (write(down[1], &b, 1) != 1) fail("sync", NULL);
    close(up[0]);
    close(down[1]);

    double deadline = S.timeout ? now() + (double)S.timeout : 0;
    int timed_out = 0, killed = 0;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(a, &st, WNOHANG);
        if (w == a) break;
        if (got_signal && !killed) {
            if (S.forward) { kill(a, got_signal); got_signal = 0; }
            else { kill(a, SIGKILL); killed = 1; }
        }
        if (deadline && !killed && now() >= deadline) {
            kill(a, SIGKILL);
            killed = 1;
            timed_out = 1;
        }
        struct pollfd pfd = {CSANDBOX_SPEC_FD, POLLIN, 0};
        int r = poll(&pfd, 1, 50);
        if (r > 0 && !killed) {
            char tmp[256];
            ssize_t n = read(CSANDBOX_SPEC_FD, tmp, sizeof tmp);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                kill(a, SIGKILL);  // the parent died
                killed = 1;
            }
        }
    }
    if (timed_out) report("TIMEOUT %lu", S.timeout);
    report("DONE %d", st);
    return 0;
}

__attribute__((constructor)) static void csandbox_entry(void) {
    const char *m = getenv(CSANDBOX_ENV);
    if (!m || strcmp(m, "1") != 0) return;
    _exit(launcher_main());
}
