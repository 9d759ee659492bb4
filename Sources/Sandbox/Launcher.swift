import CSandbox
import Foundation
import OCIWriter
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the C launcher (Sources/CSandbox/csandbox.c) is asked to do: one process tree in new namespaces.
/// Serialized as `key\0value\0` records behind a 4-byte length on the launcher's fd 3.
public struct LaunchSpec: Sendable, Hashable {
    public enum MapMode: String, Sendable {
        case direct = "map"
        case newuidmap, single
    }

    public var mapMode: MapMode
    public var uidMap: [IDMapping.Range]
    public var gidMap: [IDMapping.Range]
    public var network: NetworkMode = .host
    public var hostname: String = "ociforge"
    /// Merged root mount point; nil runs the command on the host filesystem (helper mode).
    public var root: String?
    /// Overlay lower dirs, topmost first.
    public var lowers: [String] = []
    public var upper: String?
    public var work: String?
    public var overlayOptions: String = ""
    /// Without overlay: a directory bind-mounted as the root (the manifest differ compares before/after).
    public var bindRoot: String?
    /// Read-only file binds: (host source, absolute target in the root).
    public var readOnlyFiles: [(String, String)] = []
    /// Read-write directory binds: (host source, absolute target in the root).
    public var caches: [(String, String)] = []
    /// Files on a tmpfs at /run/secrets: (name, content).
    public var secrets: [(String, String)] = []
    /// tmpfs mounts: (absolute target in the root, size in bytes; 0 = the kernel's default).
    public var tmpfs: [(String, Int64)] = []
    /// Read-only files from memory bound at any path: (absolute target, mode, uid, gid, content).
    public var files: [(target: String, mode: UInt32, uid: UInt32, gid: UInt32, content: String)] = []
    public var environment: [String] = []
    public var arguments: [String]
    public var workingDirectory: String = "/"
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var timeoutSeconds: UInt64 = 0
    public var maxProcesses: UInt64 = 4096
    public var maxOpenFiles: UInt64 = 4096
    /// Forward SIGINT/SIGTERM to the command instead of killing the tree (used to re-execute ociforge).
    public var forwardSignals = false
    /// Keep every capability and skip no_new_privs (helper commands from the host: tar, removal).
    public var allCapabilities = false

    public init(mapMode: MapMode, uidMap: [IDMapping.Range], gidMap: [IDMapping.Range], arguments: [String]) {
        self.mapMode = mapMode
        self.uidMap = uidMap
        self.gidMap = gidMap
        self.arguments = arguments
    }

    public static func == (a: LaunchSpec, b: LaunchSpec) -> Bool { a.serialized() == b.serialized() }
    public func hash(into h: inout Hasher) { h.combine(serialized()) }

    /// The wire form read by the C launcher.
    public func serialized() -> [UInt8] {
        var body: [UInt8] = []
        func put(_ k: String, _ v: String) {
            body += Array(k.utf8)
            body.append(0)
            body += Array(v.utf8)
            body.append(0)
        }
        put("mode", mapMode.rawValue)
        for r in uidMap { put("uidmap", "\(r.containerID) \(r.hostID) \(r.count)") }
        for r in gidMap { put("gidmap", "\(r.containerID) \(r.hostID) \(r.count)") }
        put("net", network.rawValue)
        put("hostname", hostname)
        if let root { put("root", root) }
        for l in lowers { put("lower", l) }
        if let upper { put("upper", upper) }
        if let work { put("work", work) }
        if !overlayOptions.isEmpty { put("ovlopt", overlayOptions) }
        if let bindRoot { put("bindroot", bindRoot) }
        for (s, t) in readOnlyFiles { put("rofile", "\(s)\n\(t)") }
        for (s, t) in caches { put("cache", "\(s)\n\(t)") }
        for (n, c) in secrets { put("secret", "\(n)\n\(c)") }
        for (t, n) in tmpfs { put("tmpfs", "\(t)\n\(n)") }
        for f in files { put("file", "\(f.target)\n\(String(f.mode, radix: 8))\n\(f.uid)\n\(f.gid)\n\(f.content)") }
        for e in environment { put("env", e) }
        for a in arguments { put("arg", a) }
        put("cwd", workingDirectory)
        put("uid", String(uid))
        put("gid", String(gid))
        put("timeout", String(timeoutSeconds))
        put("nproc", String(maxProcesses))
        put("nofile", String(maxOpenFiles))
        put("forward", forwardSignals ? "1" : "0")
        put("allcaps", allCapabilities ? "1" : "0")
        let n = UInt32(body.count)
        return [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)] + body
    }
}

public enum NetworkMode: String, Sendable, CaseIterable { case host, none }

/// How a launched command ended.
public struct LaunchResult: Sendable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut(seconds: UInt64)
        case interrupted
    }
    public var termination: Termination
    public var warnings: [String]
    /// The last lines the command wrote (stdout and stderr interleaved), for failure reports.
    public var lastLines: [String]

    public var succeeded: Bool { termination == .exited(0) }
}

/// Where a launched command's output goes, line by line.
public enum OutputSink: Sendable {
    /// Lines written to this process's stdout/stderr prefixed with `[phase] `.
    case prefixed(String)
    /// Lines collected only (lastLines) and passed to the callback.
    case callback(@Sendable (String, Bool) -> Void)
    /// The command writes straight to this process's stdout/stderr (no lastLines).
    case inherit
}

/// Tracks running launchers so SIGINT/SIGTERM can take the whole sandbox down (see `SignalGuard`).
final class ActiveLaunchers: Sendable {
    static let shared = ActiveLaunchers()
    private let state = Mutex<(pids: Set<pid_t>, interrupted: Bool)>(([], false))

    func add(_ pid: pid_t) -> Bool {
        state.withLock { s in
            if s.interrupted { return false }
            s.pids.insert(pid)
            return true
        }
    }
    func remove(_ pid: pid_t) { _ = state.withLock { $0.pids.remove(pid) } }
    var interrupted: Bool { state.withLock { $0.interrupted } }
    /// Kills every running sandbox (the launcher kills its namespaces with SIGKILL on SIGTERM).
    func interruptAll() {
        let pids = state.withLock { s -> Set<pid_t> in
            s.interrupted = true
            return s.pids
        }
        for p in pids { kill(p, SIGTERM) }
    }
}

/// Installs SIGINT/SIGTERM handling for a command-line process: the first signal kills every sandbox this
/// process started (their namespaces die with them) and makes the running phase throw `.interrupted`, so
/// temporary directories are removed before exit.
public enum SignalGuard {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let once = Mutex(false)

    public static func install() {
        let first = once.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { ActiveLaunchers.shared.interruptAll() }
            src.resume()
            sources.append(src)
        }
    }

    public static var interrupted: Bool { ActiveLaunchers.shared.interrupted }
}

/// Runs the C launcher: re-executes this binary (`/proc/self/exe`) with the launcher marker.
public enum Launcher {
    /// Runs `spec` to completion. Blocking: call from a thread that may block.
    public static func run(_ spec: LaunchSpec, output: OutputSink, stdin: Int32? = nil) throws -> LaunchResult {
        // A launcher that dies before reading its spec (killed, or failed early) must surface as EPIPE on the
        // write below, not as SIGPIPE killing this process. The launcher restores SIGPIPE before exec.
        signal(SIGPIPE, SIG_IGN)
        var specPipe: [Int32] = [0, 0], statusPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0],
            errPipe: [Int32] = [0, 0]
        for i in 0..<4 {
            let rc: Int32 =
                switch i {
                case 0: csandbox_pipe_cloexec(&specPipe)
                case 1: csandbox_pipe_cloexec(&statusPipe)
                case 2: csandbox_pipe_cloexec(&outPipe)
                default: csandbox_pipe_cloexec(&errPipe)
                }
            if rc != 0 { throw SandboxError(.launch, "cannot create a pipe", errno: errno) }
        }
        let devnull = stdin ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if stdin == nil { close(devnull) } }

        let exe = "/proc/self/exe"
        // The launcher (and PID 1, which lives as long as the phase) gets a minimal environment: nothing of
        // this process's environment (tokens passed to ociforge) is readable from /proc/<pid>/environ inside.
        var env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        env[CSANDBOX_ENV] = "1"
        let argv = ["ociforge-sandbox"]
        let envStrings = env.map { "\($0.key)=\($0.value)" }
        let pid: pid_t = withCStrings(argv) { cargv in
            withCStrings(envStrings) { cenv in
                if case .inherit = output {
                    return csandbox_spawn(exe, cargv, cenv, stdin ?? 0, 1, 2, specPipe[0], statusPipe[1])
                }
                return csandbox_spawn(exe, cargv, cenv, devnull, outPipe[1], errPipe[1], specPipe[0], statusPipe[1])
            }
        }
        close(specPipe[0])
        close(statusPipe[1])
        close(outPipe[1])
        close(errPipe[1])
        if pid < 0 {
            close(specPipe[1])
            close(statusPipe[0])
            close(outPipe[0])
            close(errPipe[0])
            throw SandboxError(.launch, "cannot start the sandbox launcher (\(exe))", errno: -pid)
        }
        let registered = ActiveLaunchers.shared.add(pid)
        if !registered { kill(pid, SIGTERM) }

        // The spec, then keep the write end open: the launcher treats EOF as "parent died".
        let bytes = spec.serialized()
        let written = bytes.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = write(specPipe[1], buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }

        let tail = LineTail(capacity: 30)
        let readers = [
            startReader(fd: outPipe[0], isError: false, sink: output, tail: tail),
            startReader(fd: errPipe[0], isError: true, sink: output, tail: tail)
        ]  // with .inherit the pipes' write ends are closed unused: the readers see EOF at once
        var statusBytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(statusPipe[0], &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            statusBytes += buf[0..<n]
        }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        ActiveLaunchers.shared.remove(pid)
        close(specPipe[1])
        close(statusPipe[0])
        for r in readers { r.wait() }

        let lines = String(decoding: statusBytes, as: UTF8.self).split(separator: "\n").map(String.init)
        var warnings: [String] = []
        var cmdStatus: Int32?
        var timeout: UInt64?
        var error: (stage: String, errno: Int32, detail: String)?
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            switch parts.first {
            case "WARN": warnings.append(String(line.dropFirst(5)))
            case "CMD": cmdStatus = Int32(parts.count > 1 ? parts[1] : "")
            case "TIMEOUT": timeout = UInt64(parts.count > 1 ? parts[1] : "0") ?? 0
            case "ERR":
                if error == nil, parts.count >= 3 {
                    error = (parts[1], Int32(parts[2]) ?? 0, parts.count > 3 ? parts[3] : "")
                }
            default: break
            }
        }
        if !written && error == nil {
            throw SandboxError(.launch, "the sandbox launcher exited before reading its spec", errno: errno)
        }
        if let timeout {
            return LaunchResult(termination: .timedOut(seconds: timeout), warnings: warnings, lastLines: tail.lines)
        }
        if ActiveLaunchers.shared.interrupted && cmdStatus == nil {
            return LaunchResult(termination: .interrupted, warnings: warnings, lastLines: tail.lines)
        }
        if let error {
            // The launcher's stage names are its protocol: `mount_overlay` is the one a fallback exists for.
            throw SandboxError(
                error.stage == "mount_overlay" ? .overlayUnavailable : .setup,
                "sandbox setup failed at stage '\(error.stage.replacingOccurrences(of: "_", with: " "))'\(error.detail.isEmpty ? "" : " (\(error.detail))")",
                errno: error.errno, detail: spec.arguments.joined(separator: " "))
        }
        guard let s = cmdStatus else {
            throw SandboxError(.launch, "the sandbox launcher ended without a command status (wait status \(st))")
        }
        let term: LaunchResult.Termination
        if s & 0x7f == 0 { term = .exited((s >> 8) & 0xff) } else { term = .signaled(s & 0x7f) }
        if ActiveLaunchers.shared.interrupted, term != .exited(0) {
            return LaunchResult(termination: .interrupted, warnings: warnings, lastLines: tail.lines)
        }
        return LaunchResult(termination: term, warnings: warnings, lastLines: tail.lines)
    }
}

final class LineTail: Sendable {
    private let state: Mutex<[String]>
    private let capacity: Int
    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex([])
    }
    func append(_ s: String) {
        state.withLock { l in
            l.append(s)
            if l.count > capacity { l.removeFirst(l.count - capacity) }
        }
    }
    var lines: [String] { state.withLock { $0 } }
}

final class ReaderThread: Sendable {
    private let done = DispatchSemaphore(value: 0)
    func finish() { done.signal() }
    func wait() { done.wait() }
}

private func startReader(fd: Int32, isError: Bool, sink: OutputSink, tail: LineTail) -> ReaderThread {
    let r = ReaderThread()
    let t = Thread {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        func emit(_ bytes: ArraySlice<UInt8>) {
            let line = String(decoding: bytes, as: UTF8.self)
            tail.append(line)
            switch sink {
            case .prefixed(let phase):
                let data = Array("[\(phase)] \(line)\n".utf8)
                _ = data.withUnsafeBytes { write(isError ? 2 : 1, $0.baseAddress, $0.count) }
            case .callback(let cb):
                cb(line, isError)
            case .inherit:
                break
            }
        }
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: 10) {
                emit(pending[..<nl])
                pending.removeSubrange(...nl)
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
        close(fd)
        r.finish()
    }
    t.start()
    return r
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
