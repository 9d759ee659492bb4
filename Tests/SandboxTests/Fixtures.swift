import Foundation
import Testing

@testable import BuildEngine
@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Shared, cached test fixtures: one Debian minbase tarball per suite (built with mmdebstrap on first use,
/// kept under /var/tmp/ociforge-test-cache) and a shared state directory for root-mode runs.
enum Fixture {
    static let cacheDir = "/var/tmp/ociforge-test-cache"
    static let suite = "bookworm"

    /// The minbase tarball; built once (flock serializes concurrent test processes).
    static func debianTarball() throws -> String {
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        let out = cacheDir + "/debian-\(suite)-minbase.tar"
        let lockFD = open(cacheDir + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(lockFD) }
        flock(lockFD, LOCK_EX)
        defer { flock(lockFD, LOCK_UN) }
        if FileManager.default.fileExists(atPath: out) { return out }
        let tmp = cacheDir + "/.tmp-\(getpid())-debian.tar"
        let r = try runHost("/usr/bin/mmdebstrap", ["--variant=minbase", "--quiet", suite, tmp])
        guard r.status == 0 else { throw SandboxError(.base, "mmdebstrap failed", detail: r.output) }
        guard rename(tmp, out) == 0 else { throw SandboxError(.base, "rename failed", errno: errno) }
        chmod(out, 0o644)
        return out
    }

    static let rootState = StateDirectory(path: cacheDir + "/state-root")

    static func rootSandbox() throws -> Sandbox {
        try rootState.prepare()
        return Sandbox(state: rootState, identity: try SandboxIdentity.detect())
    }

    /// The unpacked Debian base for root-mode runs.
    static func debianRootfs() throws -> String {
        let sb = try rootSandbox()
        return try BaseStore(state: sb.state, identity: sb.identity).rootfs(for: .tarball(try debianTarball()))
    }

    static func tempDir(_ tag: String) throws -> String {
        let d = "/tmp/ociforge-sbtest-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Collects a phase's output lines.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var _lines: [String] = []
        var lines: [String] {
            lock.lock()
            defer { lock.unlock() }
            return _lines
        }
        var text: String { lines.joined(separator: "\n") }
        var sink: OutputSink {
            .callback { [self] l, _ in
                lock.lock()
                _lines.append(l)
                lock.unlock()
            }
        }
    }
}
