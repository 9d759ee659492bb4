import COCISys

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A file name or path as raw bytes (file names are bytes, not Strings).
typealias NameBytes = [UInt8]

/// An owned file descriptor, closed on deinit.
final class OwnedFD {
    let raw: Int32
    init(_ raw: Int32) { self.raw = raw }
    deinit { close(raw) }
}

/// File types as stored in st_mode (spelled out: `S_IF*` can be ambiguous between Glibc and C modules).
enum FileKind: String, Sendable {
    case regular = "file"
    case directory = "dir"
    case symlink = "symlink"
    case fifo = "fifo"
    case charDevice = "char"
    case blockDevice = "block"
    case socket = "socket"
    case unknown = "unknown"

    static let typeMask: UInt32 = 0o170000

    init(mode: UInt32) {
        switch mode & Self.typeMask {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o010000: self = .fifo
        case 0o020000: self = .charDevice
        case 0o060000: self = .blockDevice
        case 0o140000: self = .socket
        default: self = .unknown
        }
    }

    var typeBits: UInt32 {
        switch self {
        case .regular: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .charDevice: return 0o020000
        case .blockDevice: return 0o060000
        case .socket: return 0o140000
        case .unknown: return 0
        }
    }
}

/// Calls `body` with `name` as a NUL-terminated C string.
@inline(__always)
func withCName<R>(_ name: NameBytes, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    var c = [CChar]()
    c.reserveCapacity(name.count + 1)
    for b in name { c.append(CChar(bitPattern: b)) }
    c.append(0)
    return try c.withUnsafeBufferPointer { try body($0.baseAddress!) }
}

/// Bytes rendered for messages and manifests: printable ASCII as is; everything else (and `\`) as `\xNN`.
func escapedName(_ bytes: NameBytes, escapeSpace: Bool = false, escapeEquals: Bool = false) -> String {
    var s = ""
    s.reserveCapacity(bytes.count)
    for b in bytes {
        if b >= 0x21 && b < 0x7f && b != 0x5c && !(escapeEquals && b == 0x3d) {
            s.unicodeScalars.append(Unicode.Scalar(b))
        } else if b == 0x20 && !escapeSpace {
            s.append(" ")
        } else {
            s += "\\x" + String(b, radix: 16, uppercase: false).leftPadded(to: 2)
        }
    }
    return s
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}

/// lstat-like information about a name in a directory fd.
struct AtStat {
    var kind: FileKind
    var mode: UInt32
    var dev: UInt64
    var ino: UInt64
    var nlink: UInt64
    var uid: UInt32
    var gid: UInt32
    var size: Int64
    var rdev: UInt64
    var mtimeSec: Int
    var mtimeNsec: Int

    init(_ st: stat) {
        kind = FileKind(mode: st.st_mode)
        mode = st.st_mode
        dev = UInt64(st.st_dev)
        ino = UInt64(st.st_ino)
        nlink = UInt64(st.st_nlink)
        uid = st.st_uid
        gid = st.st_gid
        size = Int64(st.st_size)
        rdev = UInt64(st.st_rdev)
        mtimeSec = st.st_mtim.tv_sec
        mtimeNsec = st.st_mtim.tv_nsec
    }
}

enum At {
    static let resolveInRoot: UInt64 =
        UInt64(OCISYS_RESOLVE_IN_ROOT | OCISYS_RESOLVE_NO_MAGICLINKS | OCISYS_RESOLVE_NO_XDEV)
    static let oPath = ocisys_o_path()
    static let oNoFollow = ocisys_o_nofollow()
    static let oDirectory = ocisys_o_directory()
    static let oNonBlock = ocisys_o_nonblock()
    static let symlinkNoFollow = ocisys_at_symlink_nofollow()
    static let removeDir = ocisys_at_removedir()
    static let emptyPath = ocisys_at_empty_path()

    /// lstat of `name` in `dirfd`; nil when it does not exist. Other failures return the errno.
    static func lstat(_ dirfd: Int32, _ name: NameBytes) -> Result<AtStat?, Errno> {
        var st = stat()
        let r = withCName(name) { fstatat(dirfd, $0, &st, symlinkNoFollow) }
        if r == 0 { return .success(AtStat(st)) }
        let e = errno
        if e == ENOENT { return .success(nil) }
        return .failure(Errno(e))
    }

    static func fstat(_ fd: Int32) -> Result<AtStat, Errno> {
        var st = stat()
        if Glibc.fstat(fd, &st) == 0 { return .success(AtStat(st)) }
        return .failure(Errno(errno))
    }

    /// openat2 relative to `root` with RESOLVE_IN_ROOT | NO_MAGICLINKS | NO_XDEV (EAGAIN retried).
    /// `path` empty means the root itself. Returns the fd or the errno.
    static func openInRoot(_ root: Int32, _ path: NameBytes, flags: Int32) -> Result<Int32, Errno> {
        let p = path.isEmpty ? Array(".".utf8) : path
        for _ in 0..<32 {
            let fd = withCName(p) {
                ocisys_openat2(root, $0, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), 0, resolveInRoot)
            }
            if fd >= 0 { return .success(fd) }
            let e = errno
            if e == EAGAIN || e == EINTR { continue }
            return .failure(Errno(e))
        }
        return .failure(Errno(EAGAIN))
    }

    /// The names in a directory (no "." / ".."), as bytes.
    static func listDirectory(_ dirfd: Int32) -> Result<[NameBytes], Errno> {
        var length = 0
        guard let buf = ocisys_read_dir_names(dirfd, &length) else { return .failure(Errno(errno)) }
        defer { free(buf) }
        var names: [NameBytes] = []
        var current: NameBytes = []
        let raw = UnsafeRawPointer(buf).assumingMemoryBound(to: UInt8.self)
        for i in 0..<length {
            let b = raw[i]
            if b == 0 {
                names.append(current)
                current = []
            } else {
                current.append(b)
            }
        }
        return .success(names)
    }

    /// readlinkat for a symlink `name` in `dirfd`.
    static func readlink(_ dirfd: Int32, _ name: NameBytes) -> Result<NameBytes, Errno> {
        var buf = [UInt8](repeating: 0, count: 4097)
        let n = withCName(name) { cname in
            buf.withUnsafeMutableBufferPointer {
                readlinkat(
                    dirfd, cname, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count
                )
            }
        }
        if n < 0 { return .failure(Errno(errno)) }
        return .success(Array(buf[0..<n]))
    }

    /// Removes `name` from `dirfd`: a directory recursively, depth first, never following a symlink
    /// (every step is an *at call on a directory fd opened with O_NOFOLLOW).
    static func removeTree(_ dirfd: Int32, _ name: NameBytes) -> Errno? {
        switch lstat(dirfd, name) {
        case .failure(let e): return e
        case .success(nil): return nil
        case .success(let st?):
            if st.kind == .directory {
                // Unprivileged, a directory without rwx for its owner (e.g. 0555) cannot be emptied: grant it
                // (AT_SYMLINK_NOFOLLOW: glibc applies it to the directory itself, never through a symlink).
                if st.mode & 0o700 != 0o700 && st.uid == geteuid() && geteuid() != 0 {
                    _ = withCName(name) { fchmodat(dirfd, $0, (st.mode & 0o7777) | 0o700, symlinkNoFollow) }
                }
                let fd = withCName(name) { openat(dirfd, $0, O_RDONLY | oDirectory | oNoFollow | O_CLOEXEC) }
                if fd < 0 { return Errno(errno) }
                let sub = OwnedFD(fd)
                switch listDirectory(sub.raw) {
                case .failure(let e): return e
                case .success(let names):
                    for n in names { if let e = removeTree(sub.raw, n) { return e } }
                }
                let r = withCName(name) { unlinkat(dirfd, $0, removeDir) }
                if r != 0 && errno != ENOENT { return Errno(errno) }
            } else {
                let r = withCName(name) { unlinkat(dirfd, $0, 0) }
                if r != 0 && errno != ENOENT { return Errno(errno) }
            }
            return nil
        }
    }
}

/// An errno value carried through `Result`.
struct Errno: Error, Equatable {
    var code: Int32
    init(_ code: Int32) { self.code = code }
    var text: String { String(cString: strerror(code)) }
}
