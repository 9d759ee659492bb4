#ifndef OCIFORGE_CSANDBOX_H
#define OCIFORGE_CSANDBOX_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/xattr.h>  // lgetxattr/llistxattr for Swift (not exported by Glibc)

// The namespace launcher lives in csandbox.c and runs from an ELF constructor when the process was started
// with OCIFORGE_SANDBOX_LAUNCHER=1 in its environment (the Swift side re-executes /proc/self/exe), i.e. before
// the Swift runtime exists and while the process is single-threaded.
//
// Protocol (see Sources/Sandbox/Launcher.swift):
//   fd 3: the spec: a 4-byte little-endian length, then `key\0value\0` records. The write end stays open
//         in the parent for the duration of the run: EOF on fd 3 means the parent died, and the launcher
//         kills the whole sandbox.
//   fd 4: status records, one line each: `ERR <stage> <errno> <detail>`, `WARN <text>`, `CMD <wait status>`,
//         `TIMEOUT`, `DONE <wait status>`.
//   fds 0-2: the command's stdin/stdout/stderr.

#define CSANDBOX_ENV "OCIFORGE_SANDBOX_LAUNCHER"
#define CSANDBOX_SPEC_FD 3
#define CSANDBOX_STATUS_FD 4

int csandbox_version(void);

/// pipe2(O_CLOEXEC) for Swift (pipe2 is _GNU_SOURCE-only in glibc). Returns 0 or -1/errno.
int csandbox_pipe_cloexec(int fds[2]);

/// posix_spawn of `path` with argv/envp where the child gets: fd 0 = stdin_fd, 1 = stdout_fd, 2 = stderr_fd,
/// 3 = spec_fd, 4 = status_fd (all other descriptors must be O_CLOEXEC), its own process group, default
/// signal dispositions and an empty signal mask. Returns the pid or -errno.
pid_t csandbox_spawn(const char *path, char *const argv[], char *const envp[],
                     int stdin_fd, int stdout_fd, int stderr_fd, int spec_fd, int status_fd);

/// True when the calling process is in the initial user namespace (uid_map is the identity over all ids).
int csandbox_in_initial_userns(void);

// Preflight probes (preflight.c): 0 when the operation works here, else the errno that refused it. `scratch` is an
// existing directory holding empty subdirectories mnt, proc, lower, upper and work.
#define CSANDBOX_PROBE_USERNS 1
#define CSANDBOX_PROBE_MOUNT 2
#define CSANDBOX_PROBE_PROC 3
#define CSANDBOX_PROBE_HOSTNAME 4
#define CSANDBOX_PROBE_OVERLAY 5
int csandbox_probe(int what, const char *scratch);

#endif
