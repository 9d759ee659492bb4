import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// ociforge's persistent state: unpacked bases, caches, and per-run scratch directories.
///
/// Layout: `runs/<id>/` (one per phase; `lock` is flock'ed by the owning process for its whole life),
/// `bases/` (base rootfs tarballs and unpacked trees), `caches/<name>/` (persistent cache mounts).
/// Mounts never appear on the host (they live in the sandbox's mount namespace and die with it), so the
/// only state a killed run leaves is its run directory: `cleanStale()` removes those whose lock is free.
public struct StateDirectory: Sendable {
    public let path: String
    /// Limits for every layer unpacked into `bases/` (base images, ADD archives): what `--max-*` flags set.
    public var extractionLimits: ExtractionLimits

    public init(path: String, extractionLimits: ExtractionLimits = ExtractionLimits()) {
        self.path = path
        self.extractionLimits = extractionLimits
    }

    /// `$OCIFORGE_STATE_DIR`, else /var/lib/ociforge for host root, else `$XDG_STATE_HOME/ociforge`
    /// (`~/.local/state/ociforge`).
    public static func `default`() -> StateDirectory {
        let env = ProcessInfo.processInfo.environment
        if let p = env["OCIFORGE_STATE_DIR"], !p.isEmpty { return StateDirectory(path: p) }
        if geteuid() == 0 && env["OCIFORGE_USERNS"] == nil { return StateDirectory(path: "/var/lib/ociforge") }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return StateDirectory(path: x + "/ociforge") }
        let home = env["HOME"] ?? NSHomeDirectory()
        return StateDirectory(path: home + "/.local/state/ociforge")
    }

    public var runs: String { path + "/runs" }
    public var bases: String { path + "/bases" }
    public var caches: String { path + "/caches" }

    /// Creates the layout and removes what dead runs left behind. Returns the removed run directories.
    @discardableResult
    public func prepare() throws -> [String] {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty { try makeDirectories(parent) }
        // 0711 whatever the umask: the sandbox's mapped root traverses them to its run directories, caches and
        // bases. A state directory an older run left with fewer bits is repaired.
        for d in [path, runs, bases, caches] {
            if makeDirectory(d, 0o711) != 0 && errno != EEXIST {
                throw SandboxError(.state, "cannot create the state directory", errno: errno, detail: d)
            }
            try requireDirectoryMode(d, 0o711)
        }
        return cleanStale()
    }

    /// Removes run directories whose owner process is gone (its flock on `lock` is released by the kernel),
    /// and partial base unpacks/downloads (`bases/*.tmp-*`, `bases/.tmp-*`) older than an hour.
    @discardableResult
    public func cleanStale() -> [String] {
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: bases)) ?? [] where name.contains(".tmp-") {
            let p = bases + "/" + name
            var st = stat()
            if lstat(p, &st) == 0, time(nil) - st.st_mtim.tv_sec > 3600 {
                removeTree(p)
                removed.append(p)
            }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runs) else { return [] }
        for name in names {
            let dir = runs + "/" + name
            if name.hasPrefix(".new-") {
                // A run directory being created (see newRun): only remove it when abandoned long ago.
                var st = stat()
                if lstat(dir, &st) == 0, time(nil) - st.st_mtim.tv_sec > 3600 {
                    removeTree(dir)
                    removed.append(dir)
                }
                continue
            }
            let fd = open(dir + "/lock", O_RDWR | O_CLOEXEC)
            if fd < 0 {
                // Crashed between mkdir and lock creation: remove when older than a minute.
                var st = stat()
                if lstat(dir, &st) == 0, time(nil) - st.st_mtim.tv_sec > 60 {
                    removeTree(dir)
                    removed.append(dir)
                }
                continue
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                removeTree(dir)
                removed.append(dir)
            }
            close(fd)
        }
        return removed
    }

    /// A new locked run directory.
    public func newRun() throws -> RunDirectory {
        try prepare()
        let id = "\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1000))-\(UInt32.random(in: 0...UInt32.max))"
        // Created under a dot name and renamed once its lock is held, so a concurrent cleanStale() never sees
        // an unlocked live run directory.
        let dir = runs + "/" + id, staging = runs + "/.new-" + id
        if makeDirectory(staging, 0o711) != 0 {
            throw SandboxError(.state, "cannot create a run directory", errno: errno, detail: staging)
        }
        let fd = open(staging + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw SandboxError(.state, "cannot create the run lock", errno: errno, detail: staging) }
        if flock(fd, LOCK_EX) != 0 {
            close(fd)
            throw SandboxError(.state, "cannot lock the run directory", errno: errno, detail: staging)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if rename(staging, dir) != 0 {
            close(fd)
            throw SandboxError(.state, "cannot move the run directory into place", errno: errno, detail: dir)
        }
        return RunDirectory(path: dir, lockFD: fd)
    }
}

/// A run's scratch directory, locked while this object lives. `remove()` deletes it.
public final class RunDirectory: @unchecked Sendable {
    public let path: String
    private var lockFD: Int32
    private let lock = NSLock()

    init(path: String, lockFD: Int32) {
        self.path = path
        self.lockFD = lockFD
    }

    public func remove() {
        lock.lock()
        defer { lock.unlock() }
        guard lockFD >= 0 else { return }
        removeTree(path)
        close(lockFD)
        lockFD = -1
    }

    deinit { if lockFD >= 0 { close(lockFD) } }
}

/// Removes a directory tree (a phase's upper dir can hold thousands of files: `rm -rf` of the host is several
/// times faster than FileManager here). Never crosses into another file system.
public func removeTree(_ path: String) {
    if (try? runHost("/bin/rm", ["-rf", "--one-file-system", "--", path]))?.status == 0 { return }
    try? FileManager.default.removeItem(atPath: path)
}

/// Runs a host program (not from any rootfs) and collects its combined output.
public func runHost(_ path: String, _ args: [String], environment: [String: String]? = nil) throws -> (
    status: Int32, output: String
) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let environment { p.environment = environment }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch {
        throw SandboxError(
            .launch, "cannot run \(path): check that it is installed and executable", cause: error)
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
