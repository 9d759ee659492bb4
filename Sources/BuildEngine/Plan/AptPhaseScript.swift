import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The shell command of an apt phase (a plan step's or the runtime stage's `apt-get install`), and how it shares
/// the apt cache mounts (`/var/cache/apt`, `/var/lib/apt/lists`) with the phases running beside it: the other stage
/// of the same build, or other builds on the same state directory.
///
/// Three `flock(1)` locks in the apt-cache mount, always taken in this order:
/// - **update** (`ociforge-update.lock`), exclusive: held while a phase decides whether the lists need an
///   `apt-get update`, runs it if so, and takes the lists lock shared. The update is skipped when this build
///   already refreshed the same sources (stamp `ociforge-lists-<hash of architectures and sources>` holding the
///   build's session), so the runtime stage's install reads the lists the build stage fetched and sees the same
///   versions.
/// - **lists** (`ociforge-lists.lock`): shared from then until the install ends; exclusive around `apt-get update`,
///   so no phase ever sees the lists change under it.
/// - **archives** (`ociforge-archives.lock`): exclusive while apt-get downloads, released by apt's
///   `DPkg::Pre-Invoke` hook once every archive is in place, before dpkg runs. apt's own locks are off
///   (`Debug::NoLocking`: they are process locks on the shared cache, held to the end, and the install writes only
///   into the phase's private root), so two dpkg runs proceed at once.
/// A phase waiting for the update lock never holds another; one holding the lists lock never waits for the update
/// lock: no cycle. A root filesystem without `flock` gets the plain command, and the engine holds the lists lock
/// exclusively around the whole phase from the host (`ImageBuilder.withAptLock`): the same file, so both kinds
/// exclude each other.
struct AptPhaseScript {
    var packages: [String]
    /// `--ca-bundle` given: apt's https trusts it.
    var trustsCABundle = false
    /// Whether the phase's root filesystem has `flock` (the locks are taken inside the phase).
    var locksInside = true

    /// The phase's variable naming this build's apt session (not part of any cache key: it only decides whether
    /// `apt-get update` runs again).
    static let sessionVariable = "OCIFORGE_APT_SESSION"
    /// The lists lock's host path for `cachesDirectory` (the state's `caches/`; the lock is in the apt-cache mount).
    static func hostListsLock(cachesDirectory: String) -> String {
        cachesDirectory + "/apt-cache/ociforge-lists.lock"
    }

    /// The command: the install, then apt's logs and backup files removed (layers stay reproducible).
    var command: String {
        installCommand
            + " && rm -rf /var/log/dpkg.log /var/log/alternatives.log /var/log/apt/* /var/cache/debconf/*-old "
            + "/var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache"
    }

    /// The lists refreshed when needed, the packages downloaded and installed (under the locks when `locksInside`).
    var installCommand: String {
        let tls = trustsCABundle ? " " + CABundle.aptOptions : ""
        let foreign = ImageBuilder.foreignArchitectures(packages)
        let names = packages.map(ImageBuilder.shellQuote).joined(separator: " ")
        let update = "apt-get -q -o Acquire::Retries=3\(tls) update >/dev/null"
        let install =
            "DEBIAN_FRONTEND=noninteractive apt-get -q -y\(tls) --no-install-recommends -o Dpkg::Use-Pty=0"
            + " -o Dpkg::Options::=--force-unsafe-io"
        guard locksInside else {
            return foreign.map { "dpkg --add-architecture \($0) && " }.joined() + update + " && " + install
                + " install " + names
        }
        let architectures = foreign.map { "dpkg --add-architecture \($0) || exit\n  " }.joined()
        // A subshell: its lock descriptors close (and the locks go) when the install ends, before the step's
        // commands.
        let session = "$" + Self.sessionVariable
        // apt-get update leaves /tmp changed (its temporary files come and go) and now runs in one phase of a build
        // only: every apt phase touches /tmp, so its layer is the same whether or not it ran the update.
        return "(" + architectures + "[ ! -d /tmp ] || { : >/tmp/.ociforge-apt && rm -f /tmp/.ociforge-apt; } || exit\n"
            + "  d=/var/cache/apt\n"
            + "  for f in update lists archives; do [ -e \"$d/ociforge-$f.lock\" ] || : >>\"$d/ociforge-$f.lock\"; done\n"
            + "  exec 7<\"$d/ociforge-update.lock\" 8<\"$d/ociforge-lists.lock\" 9<\"$d/ociforge-archives.lock\" || exit\n"
            + "  k=$({ dpkg --print-architecture; dpkg --print-foreign-architectures; cat /etc/apt/sources.list "
            + "/etc/apt/sources.list.d/* 2>/dev/null; } | cksum | cut -d' ' -f1); s=$d/ociforge-lists-$k\n"
            + "  flock -x 7 || exit\n"
            + "  if [ -n \"\(session)\" ] && [ \"$(cat \"$s\" 2>/dev/null)\" = \"\(session)\" ]; then flock -s 8 || exit\n"
            + "  else flock -x 8 && \(update) && echo \"\(session)\" >\"$s.tmp\" && mv \"$s.tmp\" \"$s\" && flock -s 8 || exit; fi\n"
            + "  flock -u 7\n"
            + "  flock -x 9 && \(install) -o Debug::NoLocking=1 -o APT::Keep-Fds::=9 -o 'DPkg::Pre-Invoke::=flock -u 9' install \(names)\n"
            + ")"
    }

    /// Whether the merged view of `trees` (top first, the base rootfs last) has `/usr/bin/flock`: the first tree
    /// holding the path decides (an executable file or a link, e.g. to busybox, yes; an overlay whiteout — a
    /// character device or an empty marker file — no).
    static func hasFlock(trees: [String]) -> Bool {
        for tree in trees {
            var st = stat()
            guard lstat(tree + "/usr/bin/flock", &st) == 0 else { continue }
            let type = st.st_mode & S_IFMT
            return type == S_IFLNK || (type == S_IFREG && st.st_size > 0 && st.st_mode & 0o111 != 0)
        }
        return false
    }
}
