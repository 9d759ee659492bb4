import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Debian trixie's skopeo, podman and cosign, whose containers/image has sigstore enabled (bookworm's is built with
/// it disabled). They need trixie's libraries, so they run chrooted in a trixie root filesystem made once per
/// machine with mmdebstrap (cached under /var/tmp, keyed by suite and packages, renamed into place when complete),
/// in a private mount and pid namespace but the host's network namespace (the loopback registry stays reachable).
enum TrixieTools {
    static let mirror = "http://deb.debian.org/debian"
    static let packages = ["ca-certificates", "cosign", "podman", "skopeo"]
    static var key: String { "trixie-apt-" + packages.joined(separator: "-") }
    static var rootfs: String { DebianBase.cacheDir + "/" + key }

    /// Whether the rootfs exists or can be made: the mirror's trixie Release file answers. Tests skip (saying why)
    /// only when it does not; a failure to make the rootfs with a reachable mirror fails the test.
    static var preparable: Bool {
        if FileManager.default.fileExists(atPath: rootfs + "/usr/bin/skopeo") { return true }
        let r = try? Harness.run(
            ["curl", "-sfI", "--max-time", "15", "\(mirror)/dists/trixie/Release"], timeout: 30)
        return r?.status == 0
    }

    /// The rootfs, made with `mmdebstrap --variant=apt` into a temporary directory and renamed into place.
    static func prepare() throws -> String {
        try FileManager.default.createDirectory(atPath: DebianBase.cacheDir, withIntermediateDirectories: true)
        return try Harness.withFileLock(DebianBase.cacheDir + "/" + key + ".lock") {
            if FileManager.default.fileExists(atPath: rootfs + "/usr/bin/skopeo") { return rootfs }
            let tmp = rootfs + ".tmp-\(getpid())"
            try? FileManager.default.removeItem(atPath: tmp)
            let r = try Harness.run(
                [
                    "mmdebstrap", "--quiet", "--variant=apt", "--include=" + packages.joined(separator: ","), "trixie",
                    tmp, mirror
                ], timeout: 1800)
            guard r.status == 0 else {
                try? FileManager.default.removeItem(atPath: tmp)
                throw HarnessError("mmdebstrap trixie failed (exit \(r.status)):\n\(r.stderr.suffix(3000))")
            }
            try FileManager.default.moveItem(atPath: tmp, toPath: rootfs)
            return rootfs
        }
    }

    /// Runs `command` chrooted in the trixie rootfs with `binds` (host directories, mounted at the same paths),
    /// /proc, /dev and /sys, and fresh tmpfs on /tmp, /run and /var/tmp (the cached rootfs is never written).
    static func run(_ command: [String], binds: [String], environment: [String: String] = [:]) throws
        -> ProcessOutput
    {
        let root = try prepare()
        let script = """
            set -e
            R=$1; shift; n=$1; shift
            mount --make-rprivate /
            # The new root a mount point: containers/storage makes / private (MS_REC|MS_PRIVATE) before it applies
            # a layer, which fails on a plain directory.
            mount --bind "$R" "$R"
            mount -t proc proc "$R/proc"
            mount --rbind /dev "$R/dev"
            mount --rbind /sys "$R/sys"
            for d in tmp run var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$R/$d"; done
            while [ "$n" -gt 0 ]; do
                mkdir -p "$R$1"; mount --bind "$1" "$R$1"; shift; n=$((n - 1))
            done
            exec chroot "$R" "$@"
            """
        let env =
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C.UTF-8"]
            + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try Harness.run(
            ["unshare", "--mount", "--pid", "--fork", "/bin/sh", "-c", script, "sh", root, String(binds.count)] + binds
                + ["/usr/bin/env", "-i"] + env + command, timeout: 600)
    }
}
