import COCISys

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A layer file to apply: its path, its compression (nil: detect none/gzip/zstd from the bytes) and what it
/// must hash to (each nil: not checked). Checks happen in the extraction pass.
public struct LayerSource: Sendable, Hashable {
    public var path: String
    public var compression: LayerCompression?
    /// Expected blob digest (descriptor `digest`).
    public var digest: Digest?
    /// Expected blob size in bytes (descriptor `size`).
    public var size: Int64?
    /// Expected sha256 of the uncompressed tar (config `rootfs.diff_ids[i]`).
    public var diffID: Digest?

    public init(
        path: String, compression: LayerCompression? = nil, digest: Digest? = nil, size: Int64? = nil,
        diffID: Digest? = nil
    ) {
        self.path = path
        self.compression = compression
        self.digest = digest
        self.size = size
        self.diffID = diffID
    }
}

extension LayerExtractor {
    /// Applies layers bottom to top into a fresh temporary sibling of `rootfs` and renames it to `rootfs` only when
    /// all succeeded. `rootfs` must not exist, or be an empty directory (which is replaced). On failure the temporary
    /// directory is removed and `rootfs` is untouched. The new rootfs directory gets mode 0755 unless a layer has a
    /// `.` entry. Blocking: call from a dedicated thread.
    @discardableResult
    public static func unpack(
        layers: [LayerSource], to rootfs: String,
        options: LayerExtractionOptions = LayerExtractionOptions()
    ) throws -> [LayerExtractionReport] {
        var trimmed = rootfs
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard !trimmed.isEmpty, trimmed != "/" else {
            throw OCIWriterError(.invalidArgument, "refusing to unpack onto '/'", path: rootfs)
        }
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        if base == "." || base == ".." {
            throw OCIWriterError(
                .invalidArgument, "the rootfs path must name a directory entry (not '.' or '..')", path: rootfs)
        }

        let parentFD = open(parent, O_RDONLY | At.oDirectory | O_CLOEXEC)
        if parentFD < 0 {
            throw OCIWriterError(
                .io, "cannot open the parent directory of the rootfs (create it first)", path: parent, errno: errno)
        }
        let parentDir = OwnedFD(parentFD)
        let baseBytes = Array(base.utf8)
        // The destination must be absent or an empty directory.
        var replaceEmpty = false
        switch At.lstat(parentDir.raw, baseBytes) {
        case .failure(let e): throw OCIWriterError(.io, "cannot inspect the destination", path: rootfs, errno: e.code)
        case .success(nil): break
        case .success(let st?):
            guard st.kind == .directory else {
                throw OCIWriterError(.invalidArgument, "the destination exists and is not a directory", path: rootfs)
            }
            let fd = withCName(baseBytes) {
                openat(parentDir.raw, $0, O_RDONLY | At.oDirectory | At.oNoFollow | O_CLOEXEC)
            }
            if fd < 0 { throw OCIWriterError(.io, "cannot open the destination", path: rootfs, errno: errno) }
            let d = OwnedFD(fd)
            switch At.listDirectory(d.raw) {
            case .failure(let e): throw OCIWriterError(.io, "cannot list the destination", path: rootfs, errno: e.code)
            case .success(let names):
                guard names.isEmpty else {
                    throw OCIWriterError(
                        .invalidArgument, "the destination exists and is not empty; remove it or choose another path",
                        path: rootfs)
                }
            }
            replaceEmpty = true
        }

        // Fresh temporary sibling.
        var tempName: NameBytes = []
        for attempt in 0..<100 {
            let candidate = Array(
                ".\(base).ociforge-unpack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(attempt)".utf8)
            if withCName(candidate, { mkdirat(parentDir.raw, $0, 0o700) }) == 0 {
                tempName = candidate
                break
            }
            if errno != EEXIST {
                throw OCIWriterError(
                    .io, "cannot create a temporary directory next to the rootfs", path: parent, errno: errno)
            }
        }
        if tempName.isEmpty { throw OCIWriterError(.io, "cannot find a free temporary name", path: parent) }
        let tempDisplay = parent + "/" + String(decoding: tempName, as: UTF8.self)

        do {
            let fd = withCName(tempName) {
                openat(parentDir.raw, $0, O_RDONLY | At.oDirectory | At.oNoFollow | O_CLOEXEC)
            }
            if fd < 0 { throw OCIWriterError(.io, "cannot open the temporary rootfs", path: tempDisplay, errno: errno) }
            let tempRoot = OwnedFD(fd)
            if fchmod(tempRoot.raw, 0o755) != 0 {
                throw OCIWriterError(.io, "cannot chmod the temporary rootfs", path: tempDisplay, errno: errno)
            }
            let extractor = LayerExtractor(options: options)
            var reports: [LayerExtractionReport] = []
            var imageBytes: UInt64 = 0
            for (i, layer) in layers.enumerated() {
                do {
                    let report = try extractor.apply(layer, rootFD: tempRoot.raw, imageBytesBefore: imageBytes)
                    imageBytes += report.uncompressedBytes
                    reports.append(report)
                } catch var e as OCIWriterError {
                    e.message = "layer \(i + 1) of \(layers.count): " + e.message
                    throw e
                }
            }
            if replaceEmpty {
                _ = withCName(baseBytes) { unlinkat(parentDir.raw, $0, At.removeDir) }
            }
            let r = withCName(tempName) { t in
                withCName(baseBytes) { b in ocisys_renameat2(parentDir.raw, t, parentDir.raw, b, 1) }
            }
            if r != 0 {
                throw OCIWriterError(
                    .io, "cannot rename the unpacked rootfs into place (did something create it meanwhile?)",
                    path: rootfs, errno: errno)
            }
            return reports
        } catch {
            _ = At.removeTree(parentDir.raw, tempName)
            throw error
        }
    }
}
