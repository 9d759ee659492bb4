import COCISys

#if canImport(Glibc)
    import Glibc
#endif

// <sys/xattr.h> is not part of the Glibc module map; these are its plain (non-variadic) C functions.
@_silgen_name("llistxattr")
private func c_llistxattr(_ path: UnsafePointer<CChar>, _ list: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int
@_silgen_name("lgetxattr")
private func c_lgetxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int
) -> Int

/// A filesystem object: `name` relative to the open directory `dirfd` (or an absolute path with `AT_FDCWD`);
/// `display` is the full host path, for messages only. Walking by directory fds keeps paths short (no
/// PATH_MAX limit on tree depth) and never follows a symlink swapped in for a directory.
struct HostRef {
    var dirfd: Int32
    var name: [UInt8]
    var display: [UInt8]

    init(path: [UInt8]) {
        dirfd = AT_FDCWD
        name = path
        display = path
    }

    init(dirfd: Int32, name: [UInt8], display: [UInt8]) {
        self.dirfd = dirfd
        self.name = name
        self.display = display
    }

    var displayString: String { HostFS.display(display) }

    /// A path the `l*xattr` calls can use: through `/proc/self/fd` for fd-relative names.
    var xattrPath: [UInt8] {
        dirfd == AT_FDCWD ? name : Array("/proc/self/fd/\(dirfd)/".utf8) + name
    }
}

/// Filesystem reads on byte paths (names are never decoded: invalid UTF-8 survives untouched).
enum HostFS {
    static func display(_ path: [UInt8]) -> String { String(decoding: path, as: UTF8.self) }

    static func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var c = path
        c.append(0)
        return try c.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    static func lstat(_ path: [UInt8]) throws -> stat { try lstat(HostRef(path: path)) }

    static func lstat(_ ref: HostRef) throws -> stat {
        var st = stat()
        let r = withCPath(ref.name) { fstatat(ref.dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        if r != 0 { throw OCIWriterError.sys("cannot stat", path: ref.displayString) }
        return st
    }

    /// Opens a directory without following a symlink in its place.
    static func openDirectory(_ ref: HostRef) throws -> Int32 {
        let fd = withCPath(ref.name) { openat(ref.dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw OCIWriterError.sys("cannot open directory", path: ref.displayString) }
        return fd
    }

    /// Opens a regular file for reading without following symlinks.
    static func openFile(_ ref: HostRef) throws -> Int32 {
        let fd = withCPath(ref.name) { openat(ref.dirfd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw OCIWriterError.sys("cannot open", path: ref.displayString) }
        return fd
    }

    static func readlink(_ ref: HostRef) throws -> [UInt8] {
        var size = 256
        while true {
            var buf = [UInt8](repeating: 0, count: size)
            let n = withCPath(ref.name) { p in
                buf.withUnsafeMutableBufferPointer {
                    readlinkat(
                        ref.dirfd, p, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), size
                    )
                }
            }
            if n < 0 { throw OCIWriterError.sys("cannot read symlink", path: ref.displayString) }
            if n < size { return Array(buf[0..<n]) }
            size *= 4
        }
    }

    /// Names in the open directory `fd` (without `.` and `..`), as raw bytes, unsorted. `fd` stays open.
    static func listDirectory(fd: Int32, display path: [UInt8]) throws -> [[UInt8]] {
        let copy = dup(fd)
        if copy < 0 { throw OCIWriterError.sys("cannot read directory", path: display(path)) }
        guard let dir = fdopendir(copy) else {
            close(copy)
            throw OCIWriterError.sys("cannot read directory", path: display(path))
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw OCIWriterError.sys("cannot read directory", path: display(path)) }
                break
            }
            let name: [UInt8] = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                let n = raw.firstIndex(of: 0) ?? raw.count
                return Array(raw[0..<n])
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }

    /// Extended attributes of `path` (not following symlinks), sorted by name, without host-specific ones:
    /// `security.selinux` and anything containing `.overlay.` (overlayfs bookkeeping).
    static func xattrs(_ ref: HostRef) throws -> [(name: [UInt8], value: [UInt8])] {
        do {
            return try xattrs(ref.xattrPath)
        } catch var e as OCIWriterError {
            e.path = ref.displayString
            throw e
        }
    }

    private static func xattrs(_ path: [UInt8]) throws -> [(name: [UInt8], value: [UInt8])] {
        var listSize = withCPath(path) { c_llistxattr($0, nil, 0) }
        if listSize < 0 {
            if errno == ENOTSUP || errno == EOPNOTSUPP { return [] }
            throw OCIWriterError.sys("cannot list extended attributes", path: display(path))
        }
        if listSize == 0 { return [] }
        var list = [UInt8](repeating: 0, count: listSize)
        while true {
            let n = withCPath(path) { p in
                list.withUnsafeMutableBufferPointer {
                    c_llistxattr(
                        p, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), listSize)
                }
            }
            if n >= 0 {
                list = Array(list[0..<n])
                break
            }
            if errno != ERANGE { throw OCIWriterError.sys("cannot list extended attributes", path: display(path)) }
            listSize *= 2
            list = [UInt8](repeating: 0, count: listSize)
        }
        var out: [(name: [UInt8], value: [UInt8])] = []
        for name in list.split(separator: 0, omittingEmptySubsequences: true).map(Array.init) {
            if !keepXattr(name) { continue }
            guard let value = try xattrValue(path, name) else { continue }
            out.append((name, value))
        }
        out.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return out
    }

    static func keepXattr(_ name: [UInt8]) -> Bool {
        if name == Array("security.selinux".utf8) { return false }
        let overlay = Array(".overlay.".utf8)
        if name.count >= overlay.count {
            for i in 0...(name.count - overlay.count) where name[i..<(i + overlay.count)].elementsEqual(overlay) {
                return false
            }
        }
        if name.starts(with: Array("trusted.overlay".utf8)) || name.starts(with: Array("user.overlay".utf8)) {
            return false
        }
        return true
    }

    private static func xattrValue(_ path: [UInt8], _ name: [UInt8]) throws -> [UInt8]? {
        var cname = name
        cname.append(0)
        return try cname.withUnsafeBufferPointer { nb -> [UInt8]? in
            let np = UnsafeRawPointer(nb.baseAddress!).assumingMemoryBound(to: CChar.self)
            while true {
                let size = withCPath(path) { c_lgetxattr($0, np, nil, 0) }
                if size < 0 {
                    if errno == ENODATA { return nil }  // removed meanwhile
                    throw OCIWriterError.sys("cannot read extended attribute \(display(name))", path: display(path))
                }
                var value = [UInt8](repeating: 0, count: max(size, 1))
                let n = withCPath(path) { p in
                    value.withUnsafeMutableBufferPointer { c_lgetxattr(p, np, $0.baseAddress, size) }
                }
                if n >= 0 { return Array(value[0..<n]) }
                if errno == ERANGE { continue }
                if errno == ENODATA { return nil }
                throw OCIWriterError.sys("cannot read extended attribute \(display(name))", path: display(path))
            }
        }
    }

    static func isDirectory(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFDIR }
}
