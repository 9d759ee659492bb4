import COCISys

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A deterministic description of a directory tree, for comparing trees (an unpacked image against its source,
/// a sandbox before and after).
///
/// One line per entry, sorted bytewise by path. Paths start at `/` (the captured root itself); bytes outside
/// printable ASCII, spaces and `\` are written `\xNN`. Fields, in order, separated by one space:
/// `<path> <type> mode=<4 octal digits incl. setuid/setgid/sticky> uid=<n> gid=<n>` then, by type,
/// `size=<n> sha256=<hex>` (regular files), `target=<escaped>` (symlinks), `dev=<major>:<minor>` (devices),
/// `hardlink=<first path of the group>` (entries sharing an inode with another entry of the tree; the group is
/// named by its bytewise-first path), `xattr.<name>=<escaped value>` (sorted by name; overlay and
/// `security.selinux` attributes excluded), and `mtime=<sec>.<9-digit nsec>` when `includeMtimes` is set.
/// Directory sizes (filesystem-dependent) are never recorded.
public struct TreeManifest: Sendable, Hashable {
    public struct Options: Sendable, Hashable {
        /// Record mtimes (default off: trees from different tools differ there).
        public var includeMtimes: Bool
        /// Capture `root/subpath` (resolved inside root) instead of root.
        public var subpath: String?
        /// Manifest paths (e.g. `/rootfs`) whose entry and subtree are left out.
        public var excludedPaths: [String]
        /// Record the captured directory itself as `/` (off to compare trees whose top directories were made by
        /// different tools, e.g. `umoci unpack`'s `rootfs/`).
        public var includeRoot: Bool

        public init(
            includeMtimes: Bool = false, subpath: String? = nil, excludedPaths: [String] = [],
            includeRoot: Bool = true
        ) {
            self.includeMtimes = includeMtimes
            self.subpath = subpath
            self.excludedPaths = excludedPaths
            self.includeRoot = includeRoot
        }
    }

    /// The manifest, one line per entry, sorted bytewise by path.
    public let lines: [String]

    public init(lines: [String]) { self.lines = lines }

    /// The manifest as text (lines joined with `\n`, trailing newline).
    public var text: String { lines.map { $0 + "\n" }.joined() }

    /// Walks the tree at `root` without following any symlink. Blocking.
    public static func capture(root: String, options: Options = Options()) throws -> TreeManifest {
        let fd = open(root, O_RDONLY | At.oDirectory | O_CLOEXEC)
        if fd < 0 { throw OCIWriterError(.io, "cannot open the directory to describe", path: root, errno: errno) }
        var top = OwnedFD(fd)
        if let sub = options.subpath {
            switch At.openInRoot(top.raw, Array(sub.utf8), flags: O_RDONLY | At.oDirectory) {
            case .success(let s): top = OwnedFD(s)
            case .failure(let e): throw OCIWriterError(.io, "cannot open subpath '\(sub)'", path: root, errno: e.code)
            }
        }
        var walker = Walker(options: options, rootDisplay: root)
        try walker.record(dirfd: top.raw, name: nil, path: Array("/".utf8), st: try walker.fstat(top.raw))
        return TreeManifest(lines: walker.finish())
    }

    /// Human-readable differences from `self` (before) to `other` (after): `- <line>` for entries only in
    /// self, `+ <line>` for entries only in other, `~ <path>: <field> <before> -> <after>` for changed fields.
    public func diff(_ other: TreeManifest) -> [String] {
        func index(_ lines: [String]) -> [String: [String]] {
            var d: [String: [String]] = [:]
            for l in lines {
                let fields = l.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                d[fields[0]] = Array(fields.dropFirst())
            }
            return d
        }
        let a = index(lines), b = index(other.lines)
        var out: [String] = []
        let paths = Set(a.keys).union(b.keys).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for p in paths {
            switch (a[p], b[p]) {
            case (let x?, nil): out.append("- " + ([p] + x).joined(separator: " "))
            case (nil, let y?): out.append("+ " + ([p] + y).joined(separator: " "))
            case (let x?, let y?) where x != y:
                func fieldMap(_ f: [String]) -> [String: String] {
                    var m: [String: String] = ["type": f.first ?? ""]
                    for kv in f.dropFirst() {
                        if let eq = kv.firstIndex(of: "=") { m[String(kv[..<eq])] = String(kv[kv.index(after: eq)...]) }
                    }
                    return m
                }
                let fx = fieldMap(x), fy = fieldMap(y)
                for k in Set(fx.keys).union(fy.keys).sorted() where fx[k] != fy[k] {
                    out.append("~ \(p): \(k) \(fx[k] ?? "(none)") -> \(fy[k] ?? "(none)")")
                }
            default: break
            }
        }
        return out
    }
}

private struct Walker {
    struct Item {
        var path: NameBytes
        var st: AtStat
        var fields: [String]
    }

    let options: TreeManifest.Options
    let rootDisplay: String
    let excluded: Set<String>
    var items: [Item] = []

    init(options: TreeManifest.Options, rootDisplay: String) {
        self.options = options
        self.rootDisplay = rootDisplay
        self.excluded = Set(
            options.excludedPaths.map { p in
                var s = p.hasPrefix("/") ? p : "/" + p
                while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
                return s
            })
    }

    func fstat(_ fd: Int32) throws -> AtStat {
        switch At.fstat(fd) {
        case .success(let s): return s
        case .failure(let e): throw OCIWriterError(.io, "fstat failed", path: rootDisplay, errno: e.code)
        }
    }

    func error(_ what: String, _ path: NameBytes, _ e: Int32) -> OCIWriterError {
        OCIWriterError(.io, what, path: rootDisplay + escapedName(path), errno: e)
    }

    /// Records the entry `name` of `dirfd` (nil name: `dirfd` itself) and, for a directory, its subtree.
    mutating func record(dirfd: Int32, name: NameBytes?, path: NameBytes, st: AtStat) throws {
        let display = escapedName(path, escapeSpace: true)
        if excluded.contains(display) { return }
        var f: [String] = [
            st.kind.rawValue, "mode=" + String(st.mode & 0o7777, radix: 8).leftPadded(to: 4),
            "uid=\(st.uid)", "gid=\(st.gid)"
        ]
        switch st.kind {
        case .regular:
            f.append("size=\(st.size)")
            f.append("sha256=" + (try hash(dirfd: dirfd, name: name!, path: path)))
        case .symlink:
            switch At.readlink(dirfd, name!) {
            case .success(let t): f.append("target=" + escapedName(t, escapeSpace: true))
            case .failure(let e): throw error("readlink failed", path, e.code)
            }
        case .charDevice, .blockDevice:
            f.append("dev=\(ocisys_major(st.rdev)):\(ocisys_minor(st.rdev))")
        default: break
        }
        f.append(contentsOf: try xattrs(dirfd: dirfd, name: name, path: path))
        if name != nil || options.includeRoot { items.append(Item(path: path, st: st, fields: f)) }

        guard st.kind == .directory else { return }
        let sub: OwnedFD
        if let name {
            let fd = withCName(name) { openat(dirfd, $0, O_RDONLY | At.oDirectory | At.oNoFollow | O_CLOEXEC) }
            if fd < 0 { throw error("cannot open directory", path, errno) }
            sub = OwnedFD(fd)
        } else {
            let fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)
            if fd < 0 { throw error("cannot duplicate fd", path, errno) }
            sub = OwnedFD(fd)
        }
        let names: [NameBytes]
        switch At.listDirectory(sub.raw) {
        case .success(let n): names = n
        case .failure(let e): throw error("cannot list directory", path, e.code)
        }
        for n in names {
            var childPath = path
            if childPath != [UInt8(ascii: "/")] { childPath.append(UInt8(ascii: "/")) }
            childPath.append(contentsOf: n)
            let cst: AtStat
            switch At.lstat(sub.raw, n) {
            case .success(let s?): cst = s
            case .success(nil): continue  // vanished meanwhile
            case .failure(let e): throw error("lstat failed", childPath, e.code)
            }
            try record(dirfd: sub.raw, name: n, path: childPath, st: cst)
        }
    }

    func hash(dirfd: Int32, name: NameBytes, path: NameBytes) throws -> String {
        let fd = withCName(name) { openat(dirfd, $0, O_RDONLY | At.oNoFollow | At.oNonBlock | O_CLOEXEC) }
        if fd < 0 { throw error("cannot open file", path, errno) }
        let file = OwnedFD(fd)
        guard try fstat(file.raw).kind == .regular else { throw error("file changed type while reading", path, EAGAIN) }
        var hasher = SHA256Hasher()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(file.raw, buf.baseAddress, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw error("read failed", path, errno)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        return hasher.finalize().hex
    }

    func xattrs(dirfd: Int32, name: NameBytes?, path: NameBytes) throws -> [String] {
        func call<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
            if let name { return withCName(name) { body($0) } }
            return body(nil)
        }
        var size = call { ocisys_llistxattr_at(dirfd, $0, nil, 0) }
        if size < 0 {
            if errno == ENOTSUP || errno == EOPNOTSUPP { return [] }
            throw error("listxattr failed", path, errno)
        }
        if size == 0 { return [] }
        var list = [CChar](repeating: 0, count: Int(size) + 256)
        size = call { n in
            list.withUnsafeMutableBufferPointer { ocisys_llistxattr_at(dirfd, n, $0.baseAddress, $0.count) }
        }
        if size < 0 { throw error("listxattr failed", path, errno) }
        var names: [NameBytes] = []
        var cur: NameBytes = []
        for c in list[0..<Int(size)] {
            if c == 0 {
                if !cur.isEmpty { names.append(cur) }
                cur = []
            } else {
                cur.append(UInt8(bitPattern: c))
            }
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        var out: [String] = []
        for xn in names {
            let xname = String(decoding: xn, as: UTF8.self)
            if XattrFilter.isExcluded(xname) { continue }
            var vsize = call { n in withCName(xn) { ocisys_lgetxattr_at(dirfd, n, $0, nil, 0) } }
            if vsize < 0 { throw error("getxattr \(xname) failed", path, errno) }
            var value = [UInt8](repeating: 0, count: Int(vsize) + 1)
            vsize = call { n in
                withCName(xn) { x in
                    value.withUnsafeMutableBytes { ocisys_lgetxattr_at(dirfd, n, x, $0.baseAddress, $0.count) }
                }
            }
            if vsize < 0 { throw error("getxattr \(xname) failed", path, errno) }
            out.append(
                "xattr." + escapedName(xn, escapeSpace: true, escapeEquals: true) + "="
                    + escapedName(Array(value[0..<Int(vsize)]), escapeSpace: true))
        }
        return out
    }

    func finish() -> [String] {
        let sorted = items.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        // Hard-link groups: entries of the tree sharing (dev, inode), named by their bytewise-first path.
        var groups: [DirKeyPair: (first: NameBytes, count: Int)] = [:]
        for it in sorted where it.st.kind != .directory && it.st.nlink > 1 {
            let k = DirKeyPair(dev: it.st.dev, ino: it.st.ino)
            if let g = groups[k] { groups[k] = (g.first, g.count + 1) } else { groups[k] = (it.path, 1) }
        }
        return sorted.map { it in
            var f = it.fields
            if it.st.kind != .directory && it.st.nlink > 1, let g = groups[DirKeyPair(dev: it.st.dev, ino: it.st.ino)],
                g.count > 1
            {
                f.append("hardlink=" + escapedName(g.first, escapeSpace: true))
            }
            if options.includeMtimes {
                f.append("mtime=\(it.st.mtimeSec).\(String(it.st.mtimeNsec).leftPadded(to: 9))")
            }
            return ([escapedName(it.path, escapeSpace: true)] + f).joined(separator: " ")
        }
    }
}

private struct DirKeyPair: Hashable {
    var dev: UInt64
    var ino: UInt64
}
