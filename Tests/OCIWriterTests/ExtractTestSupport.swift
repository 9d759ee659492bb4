import COCISys
import Foundation
import Testing

@testable import OCIWriter

/// One tar entry to craft (ustar header, plus a PAX header when needed or asked for).
struct CraftedEntry {
    enum Kind: UInt8 {
        case file = 0x30
        case hardlink = 0x31
        case symlink = 0x32
        case char = 0x33
        case block = 0x34
        case dir = 0x35
        case fifo = 0x36
    }
    var name: [UInt8]
    var kind: Kind
    var data: [UInt8] = []
    var link: [UInt8] = []
    var mode: UInt32 = 0o644
    var uid: Int = 0
    var gid: Int = 0
    var mtime: Int = 1_700_000_000
    var devMajor: Int = 0
    var devMinor: Int = 0
    /// Extra PAX records (key, value), e.g. ("SCHILY.xattr.user.a", "1").
    var pax: [(String, [UInt8])] = []

    static func file(_ name: String, _ content: String = "", mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0)
        -> CraftedEntry
    {
        CraftedEntry(name: Array(name.utf8), kind: .file, data: Array(content.utf8), mode: mode, uid: uid, gid: gid)
    }
    static func dir(_ name: String, mode: UInt32 = 0o755, uid: Int = 0, gid: Int = 0) -> CraftedEntry {
        CraftedEntry(name: Array(name.utf8), kind: .dir, mode: mode, uid: uid, gid: gid)
    }
    static func symlink(_ name: String, _ target: String) -> CraftedEntry {
        CraftedEntry(name: Array(name.utf8), kind: .symlink, link: Array(target.utf8), mode: 0o777)
    }
    static func hardlink(_ name: String, _ target: String) -> CraftedEntry {
        CraftedEntry(name: Array(name.utf8), kind: .hardlink, link: Array(target.utf8))
    }
    static func fifo(_ name: String) -> CraftedEntry { CraftedEntry(name: Array(name.utf8), kind: .fifo) }
    static func device(_ name: String, char: Bool, _ major: Int, _ minor: Int) -> CraftedEntry {
        CraftedEntry(name: Array(name.utf8), kind: char ? .char : .block, mode: 0o600, devMajor: major, devMinor: minor)
    }
}

/// A minimal tar writer for crafting (hostile) layers byte by byte.
enum CraftedTar {
    static func build(_ entries: [CraftedEntry], endMarker: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            var records = e.pax
            if e.name.count > 100 { records.insert(("path", e.name), at: 0) }
            if e.link.count > 100 { records.insert(("linkpath", e.link), at: 0) }
            if !records.isEmpty {
                var body: [UInt8] = []
                for (k, v) in records { body += paxRecord(k, v) }
                out += header(
                    name: Array("PaxHeaders/x".utf8), type: 0x78, size: body.count, link: [], mode: 0o644,
                    uid: 0, gid: 0, mtime: 0, major: 0, minor: 0)
                out += pad(body)
            }
            out += header(
                name: Array(e.name.prefix(100)), type: e.kind.rawValue, size: e.kind == .file ? e.data.count : 0,
                link: Array(e.link.prefix(100)), mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime,
                major: e.devMajor, minor: e.devMinor)
            if e.kind == .file { out += pad(e.data) }
        }
        if endMarker { out += [UInt8](repeating: 0, count: 1024) }
        return out
    }

    static func paxRecord(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let rest = 1 + key.utf8.count + 1 + value.count + 1
        var len = rest + 1
        while String(len).count + rest != len { len += 1 }
        return Array("\(len) \(key)=".utf8) + value + [0x0a]
    }

    static func pad(_ b: [UInt8]) -> [UInt8] {
        b + [UInt8](repeating: 0, count: (512 - b.count % 512) % 512)
    }

    static func octal(_ v: Int, _ width: Int) -> [UInt8] {
        let s = String(v, radix: 8)
        return Array(String(repeating: "0", count: max(0, width - 1 - s.count)).utf8) + Array(s.utf8) + [0]
    }

    static func header(
        name: [UInt8], type: UInt8, size: Int, link: [UInt8], mode: UInt32, uid: Int, gid: Int,
        mtime: Int, major: Int, minor: Int
    ) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ at: Int) { for (i, b) in bytes.enumerated() { h[at + i] = b } }
        put(name, 0)
        put(octal(Int(mode), 8), 100)
        put(octal(uid, 8), 108)
        put(octal(gid, 8), 116)
        put(octal(size, 12), 124)
        put(octal(mtime, 12), 136)
        put([UInt8](repeating: 0x20, count: 8), 148)
        h[156] = type
        put(link, 157)
        put(Array("ustar".utf8) + [0], 257)
        put(Array("00".utf8), 263)
        put(octal(major, 8), 329)
        put(octal(minor, 8), 337)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, 7) + [0x20], 148)
        return h
    }
}

/// A scratch parent directory holding `rootfs/` next to host canaries (`host/canary`, `host/dir/inner`,
/// `outside.txt`) and `layers/` (written before the "before" snapshot); snapshots cover everything but `rootfs/`.
final class ExtractSandbox {
    let dir: String
    var rootfs: String { dir + "/rootfs" }
    var host: String { dir + "/host" }
    private var layerCount = 0

    init() throws {
        var template = Array("/tmp/ociforge-extract-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let p else { throw OCIWriterError(.io, "mkdtemp failed") }
        dir = String(cString: p)
        let fm = FileManager.default
        for d in ["rootfs", "host", "host/dir", "layers"] {
            try fm.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true)
            chmod(dir + "/" + d, 0o755)
        }
        try write("host/canary", "host secret\n")
        try write("host/dir/inner", "inner secret\n")
        try write("outside.txt", "outside\n")
        try write("host/passwd", "root:x:0:0:host:/root:/bin/sh\n")
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ rel: String, _ content: String) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: dir + "/" + rel))
    }

    func read(_ rel: String) -> String? {
        FileManager.default.contents(atPath: dir + "/" + rel).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes a layer file (optionally compressed with the system gzip/zstd) under layers/.
    func layer(_ entries: [CraftedEntry], compression: LayerCompression = .none) throws -> String {
        try layer(bytes: CraftedTar.build(entries), compression: compression)
    }

    func layer(bytes: [UInt8], compression: LayerCompression = .none) throws -> String {
        layerCount += 1
        let path = "\(dir)/layers/\(layerCount).tar"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        switch compression {
        case .none: return path
        case .gzip:
            try run("/usr/bin/gzip", ["-n", "-f", path])
            return path + ".gz"
        case .zstd:
            try run("/usr/bin/zstd", ["-q", "-f", "--rm", path])
            return path + ".zst"
        }
    }

    func run(_ exe: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw OCIWriterError(.io, "\(exe) \(args) failed") }
    }

    func snapshot() throws -> TreeManifest {
        try TreeManifest.capture(root: dir, options: .init(includeMtimes: true, excludedPaths: ["/rootfs"]))
    }

    func rootManifest() throws -> TreeManifest {
        try TreeManifest.capture(root: rootfs)
    }

    struct Outcome {
        var error: OCIWriterError?
        var reports: [LayerExtractionReport]
        var warnings: [ExtractionWarning] { reports.flatMap(\.warnings) }
    }

    /// Applies the layers in order onto rootfs (stopping at the first error), and proves the host side is
    /// byte-for-byte unchanged (content, mode, owner, mtimes of everything outside rootfs/).
    func extract(
        _ layers: [[CraftedEntry]], options: LayerExtractionOptions = LayerExtractionOptions(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Outcome {
        let files = try layers.map { try layer($0) }
        return try extract(files: files, options: options, sourceLocation: sourceLocation)
    }

    func extract(
        files: [String], options: LayerExtractionOptions = LayerExtractionOptions(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Outcome {
        let before = try snapshot()
        var outcome = Outcome(error: nil, reports: [])
        let extractor = LayerExtractor(options: options)
        for f in files {
            do {
                outcome.reports.append(try extractor.apply(layer: f, to: rootfs))
            } catch let e as OCIWriterError {
                outcome.error = e
                break
            }
        }
        let after = try snapshot()
        let diff = before.diff(after)
        #expect(diff.isEmpty, "outside the rootfs changed: \(diff)", sourceLocation: sourceLocation)
        #expect(read("host/canary") == "host secret\n", sourceLocation: sourceLocation)
        return outcome
    }

    /// lstat type of a path inside rootfs, nil if absent.
    func kind(_ rel: String) -> String? {
        var st = stat()
        guard lstat(rootfs + "/" + rel, &st) == 0 else { return nil }
        switch st.st_mode & 0o170000 {
        case 0o100000: return "file"
        case 0o040000: return "dir"
        case 0o120000: return "symlink"
        case 0o010000: return "fifo"
        case 0o020000: return "char"
        case 0o060000: return "block"
        default: return "other"
        }
    }

    func mode(_ rel: String) -> UInt32? {
        var st = stat()
        guard lstat(rootfs + "/" + rel, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    func rootRead(_ rel: String) -> String? { read("rootfs/" + rel) }

    /// Names directly in rootfs, sorted.
    func rootListing(_ rel: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: rootfs + "/" + rel)) ?? []).sorted()
    }
}

/// Expects a refusal whose message names the entry.
func expectRefused(
    _ o: ExtractSandbox.Outcome, naming entry: String, _ fragment: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let e = o.error else {
        Issue.record("expected a refusal naming '\(entry)', got success", sourceLocation: sourceLocation)
        return
    }
    #expect(
        e.description.contains("'\(entry)'"), "message does not name the entry: \(e)", sourceLocation: sourceLocation)
    #expect(
        e.description.contains("entry #"), "message does not give the entry index: \(e)", sourceLocation: sourceLocation
    )
    if let fragment {
        #expect(e.description.contains(fragment), "message lacks '\(fragment)': \(e)", sourceLocation: sourceLocation)
    }
}

/// setxattr on a path (following nothing at the leaf: the file is opened O_PATH|O_NOFOLLOW), via the C helper.
func setXattr(_ path: String, _ name: String, _ value: String) -> Int32 {
    let fd = open(path, ocisys_o_path() | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    let v = Array(value.utf8)
    return v.withUnsafeBytes { ocisys_lsetxattr_at(fd, nil, name, $0.baseAddress, v.count) }
}
