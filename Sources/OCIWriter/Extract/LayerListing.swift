import CArchive

#if canImport(Glibc)
    import Glibc
#endif

/// One tar entry of a layer as far as reproducibility is concerned: what a file-level comparison looks at.
public struct LayerEntryFacts: Sendable, Hashable, Codable {
    public var path: String
    /// `file`, `dir`, `symlink`, `hardlink`, `char`, `block`, `fifo`.
    public var type: String
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var mtime: Int64
    public var size: Int64
    public var linkTarget: String?
    /// sha256 of a regular file's content.
    public var contentDigest: Digest?
    /// Extended attribute names and the sha256 of their values, sorted.
    public var xattrs: [String: Digest]?

    /// The names of the fields that differ between `self` and `other`.
    public func differences(from other: LayerEntryFacts) -> [String] {
        var d: [String] = []
        if type != other.type { d.append("type") }
        if mode != other.mode { d.append("mode") }
        if uid != other.uid { d.append("uid") }
        if gid != other.gid { d.append("gid") }
        if mtime != other.mtime { d.append("mtime") }
        if size != other.size { d.append("size") }
        if linkTarget != other.linkTarget { d.append("link") }
        if contentDigest != other.contentDigest { d.append("content") }
        if xattrs != other.xattrs { d.append("xattrs") }
        return d
    }
}

/// Lists a layer blob's entries (any compression ociforge reads), hashing regular file contents.
public enum LayerListing {
    /// `hashContents: false` skips the file data (no `contentDigest`): a listing of names and metadata only.
    public static func entries(ofLayer path: String, hashContents: Bool = true) throws -> [LayerEntryFacts] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open layer", path: path) }
        defer { close(fd) }
        let stream = try LayerStream(fd: fd, name: path, limits: ExtractionLimits())
        guard let a = archive_read_new() else {
            throw OCIWriterError(.extraction, "libarchive: out of memory", path: path)
        }
        defer { archive_read_free(a) }
        archive_read_support_format_tar(a)
        archive_read_support_format_empty(a)
        let ctx = Unmanaged.passUnretained(stream).toOpaque()
        guard withExtendedLifetime(stream, { archive_read_open(a, ctx, nil, layerStreamRead, nil) }) == ARCHIVE_OK
        else {
            throw stream.failure ?? OCIWriterError(.extraction, "cannot read the layer", path: path)
        }
        var out: [LayerEntryFacts] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            var entry: OpaquePointer?
            let r = withExtendedLifetime(stream) { archive_read_next_header(a, &entry) }
            if r == ARCHIVE_EOF { break }
            guard r >= ARCHIVE_WARN, let e = entry else {
                throw stream.failure ?? OCIWriterError(.extraction, "malformed tar in layer", path: path)
            }
            let name = archive_entry_pathname(e).map { String(cString: $0) } ?? ""
            let ft = UInt32(archive_entry_filetype(e)) & 0o170000
            var facts = LayerEntryFacts(
                path: name.split(separator: "/").filter { $0 != "." }.joined(separator: "/"),
                type: typeName(ft, hardlink: archive_entry_hardlink(e) != nil),
                mode: UInt32(archive_entry_perm(e)), uid: archive_entry_uid(e), gid: archive_entry_gid(e),
                mtime: Int64(archive_entry_mtime(e)), size: archive_entry_size(e),
                linkTarget: (archive_entry_hardlink(e) ?? archive_entry_symlink(e)).map { String(cString: $0) })
            var xattrs: [String: Digest] = [:]
            archive_entry_xattr_reset(e)
            var xname: UnsafePointer<CChar>?, xvalue: UnsafeRawPointer?, xsize = 0
            while archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK, let xname {
                xattrs[String(cString: xname)] = Digest.of(
                    xvalue.map { Array(UnsafeRawBufferPointer(start: $0, count: xsize)) } ?? [])
            }
            if !xattrs.isEmpty { facts.xattrs = xattrs }
            if facts.type == "file" && hashContents {
                var hasher = SHA256Hasher()
                while true {
                    let n = buffer.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress, $0.count) }
                    if n == 0 { break }
                    guard n > 0 else {
                        throw stream.failure ?? OCIWriterError(.extraction, "cannot read \(name)", path: path)
                    }
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                }
                facts.contentDigest = hasher.finalize()
            }
            out.append(facts)
        }
        return out
    }

    static func typeName(_ ft: UInt32, hardlink: Bool) -> String {
        if hardlink { return "hardlink" }
        switch ft {
        case 0o100000: return "file"
        case 0o040000: return "dir"
        case 0o120000: return "symlink"
        case 0o020000: return "char"
        case 0o060000: return "block"
        case 0o010000: return "fifo"
        default: return "other"
        }
    }
}
