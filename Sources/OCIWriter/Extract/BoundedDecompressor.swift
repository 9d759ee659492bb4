import CArchive

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Decompresses a gzip, bzip2, xz, lzma or zstd file (or copies an uncompressed one) with libarchive's in-process
/// decoders (never an external program), within
/// `ExtractionLimits`: the output may not pass `maxTotalBytes`, nor `maxExpansionRatio` times the compressed bytes
/// read once past `expansionCheckBytes`. A compressed archive from an app repository (`ADD app.tar.xz /srv/`) goes
/// through here before the extractor sees its tar, so a zip bomb is refused after a bounded amount of work and
/// output instead of filling the disk. Blocking.
public struct BoundedDecompressor: Sendable {
    public var limits: ExtractionLimits

    public init(limits: ExtractionLimits = ExtractionLimits()) {
        self.limits = limits
    }

    /// Writes the decompressed bytes of `source` to a new file `destination` (created 0600; it must not exist)
    /// and returns their count. On any failure — a limit (`limitExceeded`, naming `label` and the limit),
    /// corrupt data (`compression`), a full disk (`io`) — `destination` is removed.
    @discardableResult
    public func decompress(_ source: String, to destination: String, label: String? = nil) throws -> UInt64 {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if out < 0 { throw OCIWriterError.sys("cannot create the decompressed file", path: destination) }
        do {
            defer { close(out) }
            return try copy(source, into: out, destination: destination, label: label ?? source)
        } catch {
            unlink(destination)
            throw error
        }
    }

    private func copy(_ source: String, into out: Int32, destination: String, label: String) throws -> UInt64 {
        guard let a = archive_read_new() else {
            throw OCIWriterError(.compression, "libarchive: out of memory", path: source)
        }
        defer { archive_read_free(a) }
        // Only the formats ADD decompresses, each linked into libarchive (filter_all would also enable the
        // filters libarchive runs as external programs, such as lrzip).
        archive_read_support_filter_gzip(a)
        archive_read_support_filter_bzip2(a)
        archive_read_support_filter_xz(a)
        archive_read_support_filter_lzma(a)
        archive_read_support_filter_zstd(a)
        archive_read_support_format_raw(a)
        var entry: OpaquePointer?
        guard archive_read_open_filename(a, source, 1 << 20) == ARCHIVE_OK,
            archive_read_next_header(a, &entry) == ARCHIVE_OK
        else {
            throw OCIWriterError(.compression, "cannot read \(label): \(Self.message(a))", path: source)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        let compressed = archive_filter_count(a) > 1
        var total: UInt64 = 0
        while true {
            let n = archive_read_data(a, buffer.baseAddress, buffer.count)
            if n < 0 {
                throw OCIWriterError(
                    .compression, "corrupt compressed data in \(label): \(Self.message(a))", path: source)
            }
            if n == 0 { break }
            total += UInt64(n)
            // Bytes consumed by the bottom filter (the file itself) so far.
            let read = UInt64(max(archive_filter_bytes(a, -1), 0))
            if let e = limits.exceeded(
                subject: label, path: source, uncompressed: total, compressed: compressed ? read : nil)
            {
                throw e
            }
            try LayoutIO.writeAll(out, UnsafeRawBufferPointer(rebasing: buffer[..<n]), path: destination)
        }
        return total
    }

    private static func message(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
    }
}
