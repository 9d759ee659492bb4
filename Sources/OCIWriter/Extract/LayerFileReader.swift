import CArchive

#if canImport(Glibc)
    import Glibc
#endif

/// Reads single files out of an image's layer stack without unpacking it (e.g. `/var/lib/dpkg/status` for an SBOM).
extension ResolvedImage {
    /// The bytes of the regular file `path` (absolute or relative to /) as the image's layers leave it: the
    /// topmost layer that has the file, a whiteout of it or of a parent, or an opaque marker in a parent decides.
    /// nil when the image has no such file. Files over `limit` bytes are an error.
    public func fileContents(_ path: String, limit: Int = 64 << 20) throws -> [UInt8]? {
        let target = path.split(separator: "/").joined(separator: "/")
        for layer in try layerBlobs(verify: false).reversed() {
            switch try LayerFileScan.scan(layer.path, for: target, limit: limit) {
            case .file(let bytes): return bytes
            case .deleted, .hidden: return nil
            case .absent: continue
            }
        }
        return nil
    }
}

/// What one layer says about a path.
enum LayerFileScan {
    case file([UInt8])
    /// A whiteout of the path or one of its parents.
    case deleted
    /// An opaque marker in a parent directory: lower layers are hidden.
    case hidden
    case absent

    static func scan(_ layerPath: String, for target: String, limit: Int) throws -> LayerFileScan {
        let fd = open(layerPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open layer", path: layerPath) }
        defer { close(fd) }
        let stream = try LayerStream(fd: fd, name: layerPath, limits: ExtractionLimits())
        guard let a = archive_read_new() else {
            throw OCIWriterError(.extraction, "libarchive: out of memory", path: layerPath)
        }
        defer { archive_read_free(a) }
        archive_read_support_format_tar(a)
        archive_read_support_format_empty(a)
        let ctx = Unmanaged.passUnretained(stream).toOpaque()
        guard withExtendedLifetime(stream, { archive_read_open(a, ctx, nil, layerStreamRead, nil) }) == ARCHIVE_OK
        else {
            throw stream.failure ?? OCIWriterError(.extraction, "cannot read the layer", path: layerPath)
        }
        let parents = Self.parents(of: target)
        let whiteouts = Set(
            ([target] + parents).map { p -> String in
                let slash = p.lastIndex(of: "/")
                return slash.map { String(p[..<$0]) + "/.wh." + String(p[p.index(after: $0)...]) } ?? ".wh." + p
            })
        let opaques = Set(parents.map { $0 + "/.wh..wh..opq" })
        var result = LayerFileScan.absent
        while true {
            var entry: OpaquePointer?
            let r = withExtendedLifetime(stream) { archive_read_next_header(a, &entry) }
            if r == ARCHIVE_EOF { break }
            guard r >= ARCHIVE_WARN, let e = entry, let raw = archive_entry_pathname(e) else {
                throw stream.failure ?? OCIWriterError(.extraction, "malformed tar in layer", path: layerPath)
            }
            let name = String(cString: raw).split(separator: "/").filter { $0 != "." }.joined(separator: "/")
            if name == target, UInt32(archive_entry_filetype(e)) & 0o170000 == 0o100000,
                archive_entry_hardlink(e) == nil
            {
                let size = Int(archive_entry_size(e))
                guard size <= limit else {
                    throw OCIWriterError(
                        .limitExceeded, "/\(target) is \(size) bytes, over the limit of \(limit)", path: layerPath)
                }
                var bytes = [UInt8](repeating: 0, count: size)
                var got = 0
                while got < size {
                    let n = bytes.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress! + got, size - got) }
                    guard n > 0 else {
                        throw stream.failure ?? OCIWriterError(.extraction, "cannot read /\(target)", path: layerPath)
                    }
                    got += n
                }
                return .file(bytes)
            }
            if whiteouts.contains(name) { result = .deleted }
            if opaques.contains(name), case .absent = result { result = .hidden }
        }
        return result
    }

    /// `a/b/c` → `["a", "a/b"]`.
    static func parents(of path: String) -> [String] {
        let parts = path.split(separator: "/")
        return (1..<max(1, parts.count)).map { parts.prefix($0).joined(separator: "/") }
    }
}
