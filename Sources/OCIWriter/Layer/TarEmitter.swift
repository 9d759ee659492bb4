import COCISys

#if canImport(Glibc)
    import Glibc
#endif

/// Layer-path rules shared by directory and change-set sources.
enum LayerPath {
    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)
    static let opaqueName: [UInt8] = Array(".wh..wh..opq".utf8)

    /// Validates a user-supplied layer path (`what` names it in errors) and returns it normalized:
    /// relative, no leading `/` or `./`, no trailing `/`. Refuses `..`, `.`, empty components, NUL, and names
    /// starting with `.wh.` (whiteouts are written only from `.delete`/`.opaque` changes).
    static func validate(_ path: String, _ what: String, allowRoot: Bool = false) throws -> [UInt8] {
        var bytes = Array(path.utf8)
        if bytes.contains(0) {
            throw OCIWriterError(.invalidArgument, "\(what) contains a NUL byte", path: path)
        }
        if bytes.first == 0x2F {
            throw OCIWriterError(
                .invalidArgument, "\(what) must be relative to the layer root (no leading '/')", path: path)
        }
        while bytes.starts(with: [0x2E, 0x2F]) { bytes.removeFirst(2) }
        while bytes.last == 0x2F { bytes.removeLast() }
        if bytes.isEmpty || bytes == [0x2E] {
            if allowRoot { return [] }
            throw OCIWriterError(.invalidArgument, "\(what) names the layer root, which cannot be an entry", path: path)
        }
        for component in bytes.split(separator: 0x2F, omittingEmptySubsequences: false) {
            try validateName(Array(component), what, path)
        }
        return bytes
    }

    static func validateName(_ name: [UInt8], _ what: String, _ path: String) throws {
        if name.isEmpty {
            throw OCIWriterError(.invalidArgument, "\(what) has an empty path component ('//')", path: path)
        }
        if name == [0x2E] || name == [0x2E, 0x2E] {
            throw OCIWriterError(
                .unsafeEntry,
                "\(what) has a '\(String(decoding: name, as: UTF8.self))' component: layer paths must not contain '.' or '..'",
                path: path)
        }
        if name.starts(with: whiteoutPrefix) {
            throw OCIWriterError(
                .unsafeEntry,
                "\(what) has a name starting with '.wh.', which image tools read as a whiteout: rename it, or express deletions as ChangeSet .delete/.opaque",
                path: path)
        }
    }

    static func parent(_ p: [UInt8]) -> [UInt8]? {
        guard let i = p.lastIndex(of: 0x2F) else { return nil }
        return Array(p[..<i])
    }
}

/// Writes tar entries (header + content) to a sink, tracking hard links, warnings and counts.
final class TarEmitter {
    let sink: ByteSink
    let epoch: Int64?
    let idMapping: IDMapping?
    var warnings: [String] = []
    var entryCount = 0
    /// (dev, ino) of files with several links → layer path of the first one written.
    private var links: [HardLinkKey: [UInt8]] = [:]
    /// An object never to include (the layer's own temp output file when it lies inside the source tree).
    var exclude: HardLinkKey?
    private let buffer: UnsafeMutableRawBufferPointer

    struct HardLinkKey: Hashable {
        var dev: UInt64
        var ino: UInt64
    }

    init(sink: ByteSink, epoch: Int64?, idMapping: IDMapping?) {
        self.sink = sink
        self.epoch = epoch
        self.idMapping = idMapping
        buffer = .allocate(byteCount: 1 << 20, alignment: 64)
    }

    deinit { buffer.deallocate() }

    var defaultMtime: Int64 { epoch.map { max(0, $0) } ?? 0 }

    func clampMtime(_ t: Int64) -> Int64 {
        var t = max(0, t)
        if let e = epoch { t = min(t, max(0, e)) }
        return t
    }

    /// A directory ociforge adds itself (destination parents, missing change-set parents): 0755 root:root.
    func emitSyntheticDirectory(_ layerPath: [UInt8]) throws {
        try emit(
            TarEntry(path: layerPath, kind: .directory, mode: 0o755, uid: 0, gid: 0, mtime: defaultMtime), content: nil)
    }

    /// A whiteout file (`.wh.NAME` or `.wh..wh..opq`): empty regular file, 0644 root:root.
    func emitWhiteout(_ layerPath: [UInt8]) throws {
        try emit(
            TarEntry(path: layerPath, kind: .regular(size: 0), mode: 0o644, uid: 0, gid: 0, mtime: defaultMtime),
            content: nil)
    }

    /// Writes the host object at `hostPath` (already lstat'ed as `st`) as `layerPath`. Sockets are skipped
    /// with a warning. Returns false when nothing was written.
    @discardableResult
    func emitHostObject(hostPath: [UInt8], st: stat, layerPath: [UInt8]) throws -> Bool {
        try emitHostObject(HostRef(path: hostPath), st: st, layerPath: layerPath)
    }

    @discardableResult
    func emitHostObject(_ ref: HostRef, st: stat, layerPath: [UInt8]) throws -> Bool {
        let hostPath = ref.display
        let display = HostFS.display(layerPath)
        let key = HardLinkKey(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
        if key == exclude { return false }
        let fmt = st.st_mode & S_IFMT
        var kind: TarEntry.Kind
        switch fmt {
        case S_IFREG: kind = .regular(size: Int64(st.st_size))
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink(target: try HostFS.readlink(ref))
        case S_IFIFO: kind = .fifo
        case S_IFCHR:
            kind = .charDevice(major: ocisys_major(UInt64(st.st_rdev)), minor: ocisys_minor(UInt64(st.st_rdev)))
        case S_IFBLK:
            kind = .blockDevice(major: ocisys_major(UInt64(st.st_rdev)), minor: ocisys_minor(UInt64(st.st_rdev)))
        case S_IFSOCK:
            warnings.append("skipped socket \(display) (sockets cannot be stored in a layer)")
            return false
        default:
            throw OCIWriterError(
                .layerWrite, "unsupported file type \(String(fmt, radix: 8))", path: HostFS.display(hostPath))
        }
        if fmt != S_IFDIR && st.st_nlink > 1 {
            if let first = links[key] {
                kind = .hardlink(target: first)
            } else {
                links[key] = layerPath
            }
        }
        var uid = UInt32(st.st_uid), gid = UInt32(st.st_gid)
        if let m = idMapping {
            guard let u = m.containerUID(forHost: uid) else {
                throw OCIWriterError(
                    .layerWrite,
                    "owner uid \(uid) is not mapped into the user namespace (no IDMapping range covers it)",
                    path: HostFS.display(hostPath))
            }
            guard let g = m.containerGID(forHost: gid) else {
                throw OCIWriterError(
                    .layerWrite,
                    "group gid \(gid) is not mapped into the user namespace (no IDMapping range covers it)",
                    path: HostFS.display(hostPath))
            }
            uid = u
            gid = g
        }
        var xattrs = try HostFS.xattrs(ref)
        if let m = idMapping, let i = xattrs.firstIndex(where: { $0.name == FileCapabilities.xattrName }) {
            xattrs[i].value = try FileCapabilities.containerValue(
                xattrs[i].value, mapping: m, path: HostFS.display(hostPath))
        }
        let entry = TarEntry(
            path: layerPath, kind: kind, mode: UInt32(st.st_mode) & 0o7777, uid: uid, gid: gid,
            mtime: clampMtime(Int64(st.st_mtim.tv_sec)), xattrs: xattrs)
        if case .regular = kind {
            try emit(entry, content: (ref, st))
        } else {
            try emit(entry, content: nil)
        }
        return true
    }

    private func emit(_ entry: TarEntry, content: (HostRef, stat)?) throws {
        let header: [UInt8]
        do {
            header = try TarHeader.encode(entry)
        } catch var e as OCIWriterError {
            e.path = HostFS.display(entry.path)
            throw e
        }
        try sink.write(header)
        entryCount += 1
        guard case .regular(let size) = entry.kind, size > 0, let (ref, st) = content else { return }
        try copyContent(ref, st, size)
        let pad = TarHeader.padding(size)
        if pad > 0 {
            try zeroBlock.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) }
        }
    }

    private func copyContent(_ ref: HostRef, _ st: stat, _ size: Int64) throws {
        let path = ref.displayString
        let fd = try HostFS.openFile(ref)
        defer { close(fd) }
        var fst = stat()
        guard fstat(fd, &fst) == 0 else { throw OCIWriterError.sys("cannot stat", path: path) }
        guard fst.st_ino == st.st_ino, fst.st_dev == st.st_dev else {
            throw OCIWriterError(.layerWrite, "file was replaced while the layer was being written", path: path)
        }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        var remaining = size
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            let n = read(fd, buffer.baseAddress!, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIWriterError.sys("cannot read", path: path)
            }
            if n == 0 {
                throw OCIWriterError(
                    .layerWrite, "file shrank from \(size) bytes while the layer was being written", path: path)
            }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= Int64(n)
        }
    }

    /// End of archive: two zero blocks, nothing more.
    func finishArchive() throws {
        try sink.write(zeroBlock)
    }
}

private let zeroBlock = [UInt8](repeating: 0, count: 1024)
