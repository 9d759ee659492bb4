import COCISys
import Foundation
import Testing

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

@_silgen_name("lsetxattr")
private func c_lsetxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32
) -> Int32

/// A unique directory under /tmp, removed when the value is released.
final class LayerTempDir {
    let path: String

    init(_ label: String = "layer") throws {
        var template = Array("/tmp/ociforge-\(label)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw OCIWriterError.sys("mkdtemp failed")
        }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ p: String) -> String { path + "/" + p }
}

enum LayerFS {
    static func mkdir(_ path: String, mode: mode_t = 0o755) throws {
        guard Glibc.mkdir(path, 0o700) == 0 || errno == EEXIST else { throw OCIWriterError.sys("mkdir", path: path) }
        try chmod(path, mode)
    }

    static func chmod(_ path: String, _ mode: mode_t) throws {
        guard Glibc.chmod(path, mode) == 0 else { throw OCIWriterError.sys("chmod", path: path) }
    }

    static func file(_ path: String, _ contents: String, mode: mode_t = 0o644) throws {
        try bytes(path, Array(contents.utf8), mode: mode)
    }

    static func bytes(_ path: String, _ contents: [UInt8], mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIWriterError.sys("create", path: path) }
        defer { close(fd) }
        try contents.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                guard n > 0 else { throw OCIWriterError.sys("write", path: path) }
                off += n
            }
        }
        try chmod(path, mode)
    }

    static func symlink(_ target: String, _ path: String) throws {
        guard Glibc.symlink(target, path) == 0 else { throw OCIWriterError.sys("symlink", path: path) }
    }

    static func link(_ existing: String, _ path: String) throws {
        guard Glibc.link(existing, path) == 0 else { throw OCIWriterError.sys("link", path: path) }
    }

    static func mkfifo(_ path: String, mode: mode_t = 0o644) throws {
        guard Glibc.mkfifo(path, 0o600) == 0 else { throw OCIWriterError.sys("mkfifo", path: path) }
        try chmod(path, mode)
    }

    static func mknod(_ path: String, char: Bool, major: UInt32, minor: UInt32, mode: mode_t = 0o644) throws {
        let type = char ? S_IFCHR : S_IFBLK
        guard Glibc.mknod(path, type | 0o600, dev_t(ocisys_makedev_(major, minor))) == 0 else {
            throw OCIWriterError.sys("mknod", path: path)
        }
        try chmod(path, mode)
    }

    static func setxattr(_ path: String, _ name: String, _ value: [UInt8]) throws {
        let r = value.withUnsafeBytes { v in c_lsetxattr(path, name, v.baseAddress, v.count, 0) }
        guard r == 0 else { throw OCIWriterError.sys("setxattr \(name)", path: path) }
    }

    /// Sets mtime (and atime) without following symlinks.
    static func mtime(_ path: String, _ seconds: Int) throws {
        var ts = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &ts, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw OCIWriterError.sys("utimensat", path: path)
        }
    }

    static func chown(_ path: String, _ uid: UInt32, _ gid: UInt32) throws {
        guard lchown(path, uid, gid) == 0 else { throw OCIWriterError.sys("lchown", path: path) }
    }

    /// A bound unix socket file at `path`.
    static func socket(_ path: String) throws {
        let r = layerRun([
            "/usr/bin/env", "python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])",
            path
        ])
        guard r.status == 0 else { throw OCIWriterError(.io, "cannot create socket: \(r.stderr)", path: path) }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw OCIWriterError(.io, "cannot read", path: path)
        }
        return Array(d)
    }
}

private func ocisys_makedev_(_ a: UInt32, _ b: UInt32) -> UInt64 { ocisys_makedev(a, b) }

struct LayerRunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion (stdout/stderr captured through files, so large outputs cannot deadlock).
@discardableResult
func layerRun(_ argv: [String], environment: [String: String]? = nil, input: [UInt8]? = nil) -> LayerRunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    if let environment { p.environment = environment }
    let dir = try! LayerTempDir("run")
    FileManager.default.createFile(atPath: dir.sub("out"), contents: nil)
    FileManager.default.createFile(atPath: dir.sub("err"), contents: nil)
    let out = FileHandle(forWritingAtPath: dir.sub("out"))!
    let err = FileHandle(forWritingAtPath: dir.sub("err"))!
    p.standardOutput = out
    p.standardError = err
    if let input {
        FileManager.default.createFile(atPath: dir.sub("in"), contents: Data(input))
        p.standardInput = FileHandle(forReadingAtPath: dir.sub("in"))!
    }
    do { try p.run() } catch {
        return LayerRunResult(status: -1, stdout: "", stderr: "cannot run \(argv[0]): \(error)")
    }
    p.waitUntilExit()
    try? out.close()
    try? err.close()
    let o = (try? String(contentsOfFile: dir.sub("out"), encoding: .utf8)) ?? ""
    let e = (try? String(contentsOfFile: dir.sub("err"), encoding: .utf8)) ?? ""
    return LayerRunResult(status: p.terminationStatus, stdout: o, stderr: e)
}

/// One member of a tar as Python's tarfile sees it.
struct LayerTarMember {
    var name: [UInt8]
    var type: String
    var mode: Int
    var uid: Int
    var gid: Int
    var uname: String
    var gname: String
    var size: Int64
    var mtime: Int64
    var linkname: [UInt8]
    var devmajor: Int
    var devminor: Int
    var pax: [String: [UInt8]]
    var data: [UInt8]?

    var nameString: String { String(decoding: name, as: UTF8.self) }
    var linkString: String { String(decoding: linkname, as: UTF8.self) }
}

/// Parses a tar (optionally gzip-compressed) with Python's tarfile; also returns the raw bytes of the PAX
/// header blocks' names and each regular member's content (up to 64 KiB).
func layerPythonTarList(_ path: String) throws -> [LayerTarMember] {
    let script = #"""
        import tarfile, json, sys
        def h(b): return b.hex()
        def enc(s): return s.encode('utf-8', 'surrogateescape')
        out = []
        with tarfile.open(sys.argv[1], 'r:*', encoding='utf-8', errors='surrogateescape') as tf:
            for m in tf:
                d = None
                if m.isreg() and m.size <= 65536:
                    d = h(tf.extractfile(m).read())
                out.append(dict(name=h(enc(m.name)), type=m.type.decode(), mode=m.mode, uid=m.uid, gid=m.gid,
                    uname=m.uname, gname=m.gname, size=m.size, mtime=int(m.mtime), linkname=h(enc(m.linkname)),
                    devmajor=m.devmajor, devminor=m.devminor,
                    pax={k: h(enc(v) if isinstance(v, str) else v) for k, v in m.pax_headers.items()}, data=d))
        print(json.dumps(out))
        """#
    let r = layerRun(["/usr/bin/env", "python3", "-c", script, path])
    guard r.status == 0 else { throw OCIWriterError(.io, "python tarfile failed: \(r.stderr)", path: path) }
    let any = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
    return any.map { d in
        LayerTarMember(
            name: layerUnhex(d["name"] as! String), type: d["type"] as! String, mode: d["mode"] as! Int,
            uid: d["uid"] as! Int, gid: d["gid"] as! Int, uname: d["uname"] as! String, gname: d["gname"] as! String,
            size: Int64(d["size"] as! Int), mtime: Int64(d["mtime"] as! Int),
            linkname: layerUnhex(d["linkname"] as! String),
            devmajor: d["devmajor"] as! Int, devminor: d["devminor"] as! Int,
            pax: (d["pax"] as! [String: String]).mapValues(layerUnhex), data: (d["data"] as? String).map(layerUnhex))
    }
}

func layerUnhex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.utf8.makeIterator()
    func v(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }
    while let a = it.next(), let b = it.next() { out.append(v(a) << 4 | v(b)) }
    return out
}

func layerHex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// Test data: `count` bytes mixing text-like runs and pseudo-random noise (deterministic).
func layerTestBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(count)
    var x = seed
    let words = Array("the quick brown fox jumps over the lazy dog layer tar gzip digest ".utf8)
    while out.count < count {
        x = x &* 6364136223846793005 &+ 1442695040888963407
        if x >> 62 == 0 {
            for _ in 0..<64 {
                x = x &* 6364136223846793005 &+ 1
                out.append(UInt8(truncatingIfNeeded: x >> 33))
            }
        } else {
            let start = Int(x >> 40) % words.count
            out.append(contentsOf: words[start...])
        }
    }
    return Array(out.prefix(count))
}
