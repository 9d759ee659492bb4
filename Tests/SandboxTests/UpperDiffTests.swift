import CSandbox
import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// UpperDiff on hand-made upper/lower trees (no sandbox): the overlay encodings and their edge cases.
@Suite("Upper directory → ChangeSet")
struct UpperDiffTests {
    let root: String
    init() throws { root = try Fixture.tempDir("upperdiff") }

    func file(_ p: String, _ text: String = "x", mtime: Int? = nil) throws {
        try FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: p, contents: Data(text.utf8)))
        if let mtime {
            var t = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
            utimensat(AT_FDCWD, p, &t, 0)
        }
    }
    func dir(_ p: String) throws {
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    }
    func setX(_ p: String, _ name: String, _ value: String) {
        #expect(lsetxattr(p, name, value, value.utf8.count, 0) == 0, "\(name) on \(p): \(errno)")
    }

    @Test(
        "whiteouts (char 0/0 and xattr form) only where a lower has the name; opaque only over a lower directory; no-op copy-ups dropped; sockets skipped"
    )
    func encodings() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lower2 = root + "/lower2", lower1 = root + "/lower1", upper = root + "/upper"
        // lower2 (bottom): etc/a, etc/b, data/ (dir with children), same.txt, gone/ (dir)
        try file(lower2 + "/etc/a")
        try file(lower2 + "/etc/b")
        try file(lower2 + "/data/1")
        try file(lower2 + "/data/2")
        try file(lower2 + "/same.txt", "same", mtime: 1_600_000_000)
        try file(lower2 + "/shadowed/x")
        // lower1 (above): whites out etc/b, makes shadowed opaque (hides shadowed/x)
        try dir(lower1 + "/etc")
        #expect(mknod(lower1 + "/etc/b", S_IFCHR | 0o000, 0) == 0)
        try dir(lower1 + "/shadowed")
        setX(lower1 + "/shadowed", "user.overlay.opaque", "y")
        try file(lower1 + "/shadowed/new")
        // upper
        try dir(upper + "/etc")
        #expect(mknod(upper + "/etc/a", S_IFCHR | 0o000, 0) == 0)  // delete etc/a (in lower2)
        #expect(mknod(upper + "/etc/b", S_IFCHR | 0o000, 0) == 0)  // b is already gone (lower1): no entry
        #expect(mknod(upper + "/etc/never", S_IFCHR | 0o000, 0) == 0)  // never existed: no entry
        try file(upper + "/shadowed/x", "")  // xattr whiteout of a hidden name: no entry
        setX(upper + "/shadowed/x", "user.overlay.whiteout", "y")
        try file(upper + "/shadowed/new", "")  // xattr whiteout of a visible name
        setX(upper + "/shadowed/new", "user.overlay.whiteout", "y")
        try dir(upper + "/data")
        setX(upper + "/data", "user.overlay.opaque", "y")
        try file(upper + "/data/3")
        try dir(upper + "/fresh")
        setX(upper + "/fresh", "user.overlay.opaque", "y")  // opaque but nothing below: no marker
        try file(upper + "/same.txt", "same", mtime: 1_600_000_000)  // no-op copy-up
        setX(upper + "/same.txt", "user.overlay.origin", "abc")  // overlay bookkeeping does not count
        try file(upper + "/changed.txt", "new")
        // A socket
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let sp = upper + "/s.sock"
        withUnsafeMutableBytes(of: &addr.sun_path) { b in for (i, c) in sp.utf8.enumerated() { b[i] = c } }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(sock)

        let r = try UpperDiff(upper: upper, lowers: [lower1, lower2]).compute()
        let cs = Set(r.changes.changes)
        #expect(cs.contains(.delete(path: "etc/a")))
        #expect(!cs.contains(.delete(path: "etc/b")))
        #expect(!cs.contains(.delete(path: "etc/never")))
        #expect(!cs.contains(.delete(path: "shadowed/x")))
        #expect(cs.contains(.delete(path: "shadowed/new")))
        #expect(cs.contains(.opaque(directory: "data")))
        #expect(cs.contains(.add(path: "data", source: upper + "/data")))
        #expect(cs.contains(.add(path: "data/3", source: upper + "/data/3")))
        #expect(!cs.contains(.opaque(directory: "fresh")))
        #expect(cs.contains(.add(path: "fresh", source: upper + "/fresh")))
        #expect(!cs.contains { $0.path == "same.txt" })
        #expect(cs.contains(.add(path: "changed.txt", source: upper + "/changed.txt")))
        #expect(!cs.contains { $0.path == "s.sock" })
        #expect(r.warnings.contains { $0.contains("s.sock") })
    }

    @Test("a copy-up that gained a hard link is kept with its link (RUN ln /usr/bin/env /usr/local/bin/e)")
    func hardLinkedCopyUp() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lower = root + "/lower", upper = root + "/upper"
        try file(lower + "/usr/bin/env", "env", mtime: 1_600_000_000)
        try file(lower + "/usr/bin/untouched", "u", mtime: 1_600_000_000)
        // The copy-up of usr/bin/env is unchanged, but the phase linked it: both names share the inode.
        try file(upper + "/usr/bin/env", "env", mtime: 1_600_000_000)
        try dir(upper + "/usr/local/bin")
        #expect(link(upper + "/usr/bin/env", upper + "/usr/local/bin/e") == 0)
        try file(upper + "/usr/bin/untouched", "u", mtime: 1_600_000_000)  // a no-op copy-up: still dropped
        let r = try UpperDiff(upper: upper, lowers: [lower]).compute()
        let paths = Set(
            r.changes.changes.compactMap { c -> String? in if case .add(let p, _) = c { return p } else { return nil } }
        )
        #expect(paths.contains("usr/bin/env"))
        #expect(paths.contains("usr/local/bin/e"))
        #expect(!paths.contains("usr/bin/untouched"))
    }

    @Test("redirect and metacopy entries are refused with an error naming the path")
    func redirectRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lower = root + "/lower", upper = root + "/upper"
        try file(lower + "/a/f")
        try dir(upper + "/b")
        setX(upper + "/b", "user.overlay.redirect", "/a")
        do {
            _ = try UpperDiff(upper: upper, lowers: [lower]).compute()
            Issue.record("accepted a redirect")
        } catch let e as SandboxError {
            #expect(e.code == .diff && e.message.contains("/b") && e.message.contains("redirect"))
        }
    }
}
