import Foundation
import Testing

@testable import OCIWriter

/// A unique temporary directory under /tmp, removed when the value is dropped.
final class LayoutTempDir: @unchecked Sendable {
    let path: String

    init(_ label: String = "layout") throws {
        var template = Array("/tmp/ociforge-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw OCIWriterError(.io, "mkdtemp failed") }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

struct LayoutProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, capturing its output.
@discardableResult
func layoutRun(_ executable: String, _ args: [String], cwd: String? = nil, environment: [String: String]? = nil) throws
    -> LayoutProcessResult
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { p.environment = environment }
    let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("ociforge-run-\(UUID().uuidString).out")
    let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("ociforge-run-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outFile)
        try? FileManager.default.removeItem(at: errFile)
    }
    let out = try FileHandle(forWritingTo: outFile)
    let err = try FileHandle(forWritingTo: errFile)
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    try out.close()
    try err.close()
    return LayoutProcessResult(
        status: p.terminationStatus,
        stdout: (try? String(contentsOf: outFile, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
}

/// Builds a small layer with the system `tar` and `gzip -n` / `zstd`: `files` maps relative paths to contents.
func makeLayoutTestLayer(
    in dir: String, name: String, files: [String: String], compression: LayerCompression = .gzip,
    createdBy: String? = nil
) throws -> LayerInput {
    let root = dir + "/" + name + "-tree"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    for (rel, content) in files {
        let p = root + "/" + rel
        try FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: p))
    }
    let tar = dir + "/" + name + ".tar"
    let r = try layoutRun(
        "/usr/bin/tar",
        [
            "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
            "--format=pax", "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            "-C", root, "-cf", tar, "."
        ])
    try #require(r.status == 0, "tar failed: \(r.stderr)")
    let tarBytes = try Array(Data(contentsOf: URL(fileURLWithPath: tar)))
    let diffID = Digest.of(tarBytes)
    let blob: String
    switch compression {
    case .none:
        blob = tar
    case .gzip:
        blob = tar + ".gz"
        let g = try layoutRun("/bin/sh", ["-c", "gzip -n -6 -c \"$0\" > \"$1\"", tar, blob])
        try #require(g.status == 0, "gzip failed: \(g.stderr)")
    case .zstd:
        blob = tar + ".zst"
        let z = try layoutRun("/bin/sh", ["-c", "zstd -q -3 -c \"$0\" > \"$1\"", tar, blob])
        try #require(z.status == 0, "zstd failed: \(z.stderr)")
    }
    let blobBytes = try Array(Data(contentsOf: URL(fileURLWithPath: blob)))
    return LayerInput(
        file: blob, mediaType: compression.ociMediaType, digest: Digest.of(blobBytes),
        size: Int64(blobBytes.count), diffID: diffID, createdBy: createdBy ?? "test layer \(name)")
}

func layoutReadText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

func layoutWriteText(_ path: String, _ s: String) throws {
    try Data(s.utf8).write(to: URL(fileURLWithPath: path))
}

/// Flips one byte of a file in place.
func layoutFlipByte(_ path: String, at offset: Int) throws {
    var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A single-layer image tagged `tag` in `layout`, for tests that need some image.
func makeLayoutTestImage(
    _ layout: OCILayout, tag: String, work: String, platform: Platform = Platform(architecture: "amd64", os: "linux"),
    content: String = "hello"
) throws -> AssembledImage {
    let layer = try makeLayoutTestLayer(
        in: work, name: "simple-\(tag)-\(platform.architecture)", files: ["hello.txt": content])
    return try ImageAssembler(
        base: .scratch(platform: platform), layers: [layer],
        changes: ConfigChanges(cmd: ["/hello"]), destination: layout, tag: tag,
        environment: [:]
    ).assemble()
}
