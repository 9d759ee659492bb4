import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Result of running a program.
struct ProcessOutput: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

enum Harness {
    /// Directory holding the built products (the test bundle lives next to the `ociforge` binary).
    static let productsDirectory: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    static var ociforge: String { productsDirectory + "/ociforge" }

    /// The repository root (for Fixtures/).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func fixture(_ relative: String) -> String { repoRoot + "/Fixtures/" + relative }

    /// Runs `arguments[0]` (a path, or a name looked up in PATH) and captures its output.
    @discardableResult
    static func run(
        _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil,
        stdin: String? = nil, timeout: TimeInterval = 600
    ) throws -> ProcessOutput {
        let p = Process()
        let exe = arguments[0]
        if exe.contains("/") {
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = Array(arguments.dropFirst())
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = arguments
        }
        if let environment {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            p.environment = env
        }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let outFile = try TempDir.make("proc-out")
        let outPath = outFile.path + "/stdout", errPath = outFile.path + "/stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            signal(SIGPIPE, SIG_IGN)  // a child that exits without reading its input must not kill the test process
            let pipe = Pipe()
            p.standardInput = pipe
            try p.run()
            pipe.fileHandleForWriting.write(Data(stdin.utf8))
            try pipe.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline {
                p.terminate()
                usleep(200_000)
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                p.waitUntilExit()
                throw HarnessError("timed out after \(Int(timeout)) s: \(arguments.joined(separator: " "))")
            }
            usleep(20_000)
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        let result = ProcessOutput(
            status: p.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
        try? FileManager.default.removeItem(atPath: outFile.path)
        return result
    }

    /// Runs and requires exit status 0, returning stdout.
    @discardableResult
    static func ok(
        _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let r = try run(arguments, environment: environment, cwd: cwd)
        if r.status != 0 {
            Issue.record("command failed: \(arguments.joined(separator: " "))\n\(r)", sourceLocation: sourceLocation)
            throw HarnessError("command failed: \(arguments.joined(separator: " ")): \(r.stderr)")
        }
        return r.stdout
    }

    /// Runs `body` while holding an exclusive lock on `path` (shared caches across parallel tests/processes).
    static func withFileLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HarnessError("cannot open lock \(path)") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw HarnessError("cannot lock \(path)") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A temporary directory removed when the test is done with it (call `remove()`).
struct TempDir {
    let path: String

    /// Lowercase names only: podman derives image names from `oci:` paths and refuses uppercase.
    static func make(_ prefix: String) throws -> TempDir {
        for _ in 0..<100 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let path = "/tmp/ociforge-it-\(prefix.lowercased())-\(suffix)"
            if mkdir(path, 0o700) == 0 { return TempDir(path: path) }
            if errno != EEXIST { throw HarnessError("cannot create \(path): errno \(errno)") }
        }
        throw HarnessError("cannot create a temporary directory")
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A Debian minbase root filesystem built once per machine with mmdebstrap and cached.
enum DebianBase {
    static let cacheDir = "/var/tmp/ociforge-test-cache"

    /// Path of an extracted bookworm minbase rootfs (read-only use: copy before modifying).
    static func minbaseRootfs() throws -> String {
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        let dir = cacheDir + "/integration-minbase-bookworm"
        return try Harness.withFileLock(cacheDir + "/integration-minbase.lock") {
            if FileManager.default.fileExists(atPath: dir + ".complete") { return dir }
            try? FileManager.default.removeItem(atPath: dir)
            let tmp = dir + ".tmp"
            try? FileManager.default.removeItem(atPath: tmp)
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            try Harness.ok(["mmdebstrap", "--quiet", "--variant=minbase", "--skip=output/dev", "bookworm", tmp])
            try FileManager.default.moveItem(atPath: tmp, toPath: dir)
            FileManager.default.createFile(atPath: dir + ".complete", contents: nil)
            return dir
        }
    }
}
