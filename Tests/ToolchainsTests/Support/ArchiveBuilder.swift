import Foundation
import OCIWriter

/// Builds real archives with the system's `tar` (GNU) and `zip` from a directory tree the test writes.
struct ArchiveBuilder {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "tc-arch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    /// A fresh source tree: `files` (path → content; executables start with `#!`), `links` (path → target).
    func tree(_ name: String, files: [String: String], links: [String: String] = [:]) throws -> String {
        let root = dir + "/src-" + name
        for (p, content) in files {
            let full = root + "/" + p
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: full))
            chmod(full, content.hasPrefix("#!") ? 0o755 : 0o644)
        }
        for (p, target) in links {
            let full = root + "/" + p
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
        }
        return root
    }

    /// A tar archive (`z` gzip, `J` xz) of the entries of `root`, with extra GNU tar arguments (e.g. `--transform`).
    func tar(_ root: String, compression: String, extra: [String] = [], entries: [String]? = nil) throws -> [UInt8] {
        let out = dir + "/out-\(UUID().uuidString).tar"
        let names = try entries ?? FileManager.default.contentsOfDirectory(atPath: root).sorted()
        try run(
            "/usr/bin/tar",
            [
                "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-c\(compression)f", out,
                "-C", root
            ] + extra + names)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// A zip of the entries of `root` (symlinks stored as links), or of `names` as given (relative to `root`,
    /// stored verbatim: `../x` stays `../x`).
    func zip(_ root: String, names given: [String]? = nil) throws -> [UInt8] {
        let out = dir + "/out-\(UUID().uuidString).zip"
        let names = try given ?? FileManager.default.contentsOfDirectory(atPath: root).sorted()
        try run("/usr/bin/zip", ["-q", "-r", "-y", "-X", out] + names, cwd: root)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func run(_ exe: String, _ args: [String], cwd: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw POSIXError(.EIO) }
    }
}

enum Hex {
    static func sha256(_ b: [UInt8]) -> String { Digest.of(b).hex }

    static func sha512(_ b: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "tc-h-\(UUID().uuidString)"
        try Data(b).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let p = Process()
        let pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha512sum")
        p.arguments = [path]
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ")[0].description
    }
}

/// Runs an executable and returns its trimmed standard output (nil when it fails).
func runOutput(_ exe: String, _ args: [String], env: [String: String]? = nil) -> String? {
    let p = Process()
    let pipe = Pipe()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let env { p.environment = env }
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
