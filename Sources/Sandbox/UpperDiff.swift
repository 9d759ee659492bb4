import CSandbox
import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Converts an overlay upper directory into a `ChangeSet` against its lower directories.
///
/// - A whiteout (char device 0/0, or a 0-byte file with an `overlay.whiteout` xattr) becomes a deletion
///   only when a lower has the name.
/// - A directory marked opaque (`trusted.overlay.opaque` / `user.overlay.opaque` = `y`) gets an opaque
///   marker only when a lower had a directory there.
/// - Redirected or metacopy entries are refused (the sandbox mounts with redirect_dir=nofollow,metacopy=off).
/// - Copy-ups that changed nothing (type, mode, owner, size, mtime, security.capability, content, link
///   target, device number; a file that gained hard links changed) are dropped; sockets are skipped with a warning.
/// The layer writer must not copy `*.overlay.*` xattrs (they mark every copied-up entry); `overlayXattrNames`
/// lists what to filter.
public struct UpperDiff: Sendable {
    public let upper: String
    /// Lower directories, topmost first (as in overlay's lowerdir=).
    public let lowers: [String]
    /// Paths (layer form, e.g. `etc/hosts`) the sandbox created as mount points: dropped when they are
    /// still empty and no lower has them.
    public var createdMountPoints: Set<String> = []

    public init(upper: String, lowers: [String], createdMountPoints: Set<String> = []) {
        self.upper = upper
        self.lowers = lowers
        self.createdMountPoints = createdMountPoints
    }

    public struct Result: Sendable {
        public var changes: ChangeSet
        public var warnings: [String]
    }

    public func compute() throws -> Result {
        var out: [ChangeSet.Change] = []
        var warnings: [String] = []
        try walk(rel: "", host: upper, into: &out, warnings: &warnings)
        return Result(changes: ChangeSet(out), warnings: warnings)
    }

    /// Appends the changes under `host`; returns true when a created mount point was dropped directly in it.
    @discardableResult
    private func walk(rel: String, host: String, into out: inout [ChangeSet.Change], warnings: inout [String]) throws
        -> Bool
    {
        let names = try listUTF8Names(host).sorted()
        var droppedMountPoint = false
        for name in names {
            let r = rel.isEmpty ? name : rel + "/" + name
            let h = host + "/" + name
            var st = stat()
            guard lstat(h, &st) == 0 else { throw SandboxError(.diff, "cannot stat", errno: errno, detail: h) }
            let type = st.st_mode & S_IFMT
            if type == S_IFSOCK {
                warnings.append("skipping socket /\(r): sockets cannot be stored in a layer")
                continue
            }
            for x in [
                "trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.metacopy"
            ]
            where hasXattr(h, x) {
                throw SandboxError(
                    .diff,
                    "/\(r) carries \(x): redirected or metacopy entries are not supported (mount with redirect_dir=nofollow,metacopy=off)",
                    detail: h)
            }
            if isWhiteout(h, st) {
                if LowerView(lowers: lowers).entry(r) != nil { out.append(.delete(path: r)) }
                continue
            }
            let lower = LowerView(lowers: lowers).entry(r)
            if createdMountPoints.contains(r), lower == nil, isEmptyMountPoint(h, st) {
                droppedMountPoint = true
                continue
            }
            if type == S_IFDIR {
                let opaque = isOpaque(h)
                let lowerIsDir = lower.map { $0.st.st_mode & S_IFMT == S_IFDIR } ?? false
                var children: [ChangeSet.Change] = []
                let createdInside = try walk(rel: r, host: h, into: &children, warnings: &warnings)
                if opaque && lowerIsDir { out.append(.opaque(directory: r)) }
                var changed =
                    lower == nil || !lowerIsDir || opaque || !sameMetadata(st, lower!.st) || !sameXattrs(h, lower!.path)
                // Only the mtime moved because the sandbox created a mount point here: not a change.
                if changed, !opaque, lowerIsDir, createdInside, sameOwnerMode(st, lower!.st),
                    sameXattrs(h, lower!.path),
                    !children.contains(where: { Self.isDirectChild($0, of: r) })
                {
                    changed = false
                }
                if changed { out.append(.add(path: r, source: h)) }
                out += children
            } else {
                if let lower, try sameObject(h, st, lower.path, lower.st) { continue }
                out.append(.add(path: r, source: h))
            }
        }
        return droppedMountPoint
    }

    private static func isDirectChild(_ c: ChangeSet.Change, of dir: String) -> Bool {
        let p: String
        switch c {
        case .add(let path, _): p = path
        case .delete(let path): p = path
        case .opaque(let path): p = path
        }
        guard p.hasPrefix(dir + "/") else { return false }
        return !p.dropFirst(dir.count + 1).contains("/")
    }

    private func sameOwnerMode(_ a: stat, _ b: stat) -> Bool {
        a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid
    }

    private func isEmptyMountPoint(_ h: String, _ st: stat) -> Bool {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return (try? FileManager.default.contentsOfDirectory(atPath: h).isEmpty) ?? false
        case S_IFREG: return st.st_size == 0
        default: return false
        }
    }

    private func sameMetadata(_ a: stat, _ b: stat) -> Bool {
        a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid
            && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
    }

    private func sameObject(_ h: String, _ a: stat, _ lp: String, _ b: stat) throws -> Bool {
        guard sameMetadata(a, b), a.st_size == b.st_size else { return false }
        guard xattr(h, "security.capability") == xattr(lp, "security.capability") else { return false }
        switch a.st_mode & S_IFMT {
        case S_IFLNK:
            return (try? FileManager.default.destinationOfSymbolicLink(atPath: h))
                == (try? FileManager.default.destinationOfSymbolicLink(atPath: lp))
        case S_IFCHR, S_IFBLK:
            return a.st_rdev == b.st_rdev
        case S_IFREG:
            // A copy-up shares its inode with nothing (overlay breaks lower hard links): several names here mean the
            // phase made hard links to it, which the layer must record (`ln /usr/bin/env /usr/local/bin/e`).
            if a.st_nlink > 1 { return false }
            return sameXattrs(h, lp) && sameContent(h, lp)
        default:
            return true
        }
    }

    private func sameContent(_ a: String, _ b: String) -> Bool {
        let fa = open(a, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), fb = open(b, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        defer {
            if fa >= 0 { close(fa) }
            if fb >= 0 { close(fb) }
        }
        guard fa >= 0, fb >= 0 else { return false }
        var ba = [UInt8](repeating: 0, count: 1 << 16), bb = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let na = readFull(fa, &ba), nb = readFull(fb, &bb)
            if na != nb || na < 0 { return false }
            if na == 0 { return true }
            if ba[0..<na] != bb[0..<nb] { return false }
        }
    }

    private func readFull(_ fd: Int32, _ buf: inout [UInt8]) -> Int {
        var got = 0
        while got < buf.count {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            got += n
        }
        return got
    }

    /// Non-overlay xattrs equal (names and values).
    private func sameXattrs(_ a: String, _ b: String) -> Bool {
        let na = xattrNames(a).filter { !Self.isOverlayXattr($0) },
            nb = xattrNames(b).filter { !Self.isOverlayXattr($0) }
        guard na == nb else { return false }
        return na.allSatisfy { xattr(a, $0) == xattr(b, $0) }
    }

    /// `trusted.overlay.*`, `user.overlay.*`: overlayfs bookkeeping, never part of a layer.
    public static func isOverlayXattr(_ name: String) -> Bool {
        name.hasPrefix("trusted.overlay.") || name.hasPrefix("user.overlay.")
    }
}

/// The lowers of an overlay as overlayfs resolves them: topmost first, whiteouts and non-directories hide
/// everything below, opaque directories hide lower children.
struct LowerView {
    let lowers: [String]

    func entry(_ rel: String) -> (path: String, st: stat)? {
        let comps = rel.split(separator: "/").map(String.init)
        for lower in lowers {
            var cur = lower
            var stopBelow = false
            var missing = false
            for (i, c) in comps.enumerated() {
                cur += "/" + c
                var st = stat()
                if lstat(cur, &st) != 0 {
                    missing = true
                    break
                }
                if isWhiteout(cur, st) { return nil }
                if i == comps.count - 1 { return (cur, st) }
                if st.st_mode & S_IFMT != S_IFDIR { return nil }
                if isOpaque(cur) { stopBelow = true }
            }
            if missing && stopBelow { return nil }
        }
        return nil
    }
}

/// The entries of `dir` (without `.`/`..`). A name that is not valid UTF-8 cannot be expressed in a
/// `ChangeSet` (String paths): refuse it, naming the directory and the name's bytes, rather than mangle it.
func listUTF8Names(_ dir: String) throws -> [String] {
    guard let d = opendir(dir) else {
        throw SandboxError(.diff, "cannot list the directory", errno: errno, detail: dir)
    }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let bytes: [UInt8] = withUnsafeBytes(of: e.pointee.d_name) { raw in
            Array(raw.prefix(while: { $0 != 0 }))
        }
        if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
        guard let name = String(validating: bytes, as: UTF8.self) else {
            let shown = bytes.map {
                $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0)
            }.joined()
            throw SandboxError(
                .diff,
                "a file name in the phase's changes is not valid UTF-8 ('\(shown)'): rename it in the build step",
                detail: dir)
        }
        names.append(name)
    }
    return names
}

func isWhiteout(_ path: String, _ st: stat) -> Bool {
    let t = st.st_mode & S_IFMT
    if t == S_IFCHR && st.st_rdev == 0 { return true }
    if t == S_IFREG && st.st_size == 0 {
        return hasXattr(path, "trusted.overlay.whiteout") || hasXattr(path, "user.overlay.whiteout")
    }
    return false
}

func isOpaque(_ path: String) -> Bool {
    for n in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if let v = xattr(path, n), v == [UInt8(ascii: "y")] { return true }
    }
    return false
}

func hasXattr(_ path: String, _ name: String) -> Bool {
    lgetxattr(path, name, nil, 0) >= 0
}

func xattr(_ path: String, _ name: String) -> [UInt8]? {
    let n = lgetxattr(path, name, nil, 0)
    guard n >= 0 else { return nil }
    var buf = [UInt8](repeating: 0, count: max(n, 1))
    let m = lgetxattr(path, name, &buf, buf.count)
    guard m >= 0 else { return nil }
    return Array(buf[0..<m])
}

func xattrNames(_ path: String) -> [String] {
    let n = llistxattr(path, nil, 0)
    guard n > 0 else { return [] }
    var buf = [CChar](repeating: 0, count: n)
    let m = llistxattr(path, &buf, n)
    guard m > 0 else { return [] }
    return buf[0..<m].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        .sorted()
}
