import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
///
/// A plain value (the absolute path): every operation opens what it needs, so separate instances, threads and
/// processes may use the same layout at once.
/// - Blobs are written to a temporary file under `blobs/`, fsynced, verified and renamed to `blobs/sha256/<hex>`
///   (then the directory is fsynced). A blob already present with the right content is not written again.
/// - `index.json` updates take an exclusive `flock(2)` on the layout directory itself, re-read `index.json`
///   under the lock, and replace it atomically (temp file, fsync, rename). Readers never need the lock.
/// - Blob paths are only ever built from a validated `Digest`; reads verify size and digest.
///
/// All methods block on file I/O: call them from a thread or a detached task, not from the cooperative pool's
/// hot paths.
public struct OCILayout: Sendable, Hashable, CustomStringConvertible {
    /// Absolute path of the layout directory.
    public let path: String

    /// Largest JSON document (index, manifest, config) read into memory.
    public static let documentLimit = 64 << 20
    /// Content of the `oci-layout` file written by ociforge.
    public static let layoutFileBytes = Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)
    static let tempPrefix = ".ociforge-tmp-"

    private init(path: String) {
        self.path = path
    }

    public var description: String { path }

    /// Runs blocking layout work (assembly, verification, large copies) on a dedicated thread, so async callers
    /// keep the cooperative pool free: `try await OCILayout.offloading { try assembler.assemble() }`.
    public static func offloading<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, Error>) in
            let t = Thread { k.resume(with: Result { try work() }) }
            t.stackSize = 8 << 20
            t.start()
        }
    }
    public var indexPath: String { path + "/index.json" }
    public var blobsDirectory: String { path + "/blobs/sha256" }
    /// Where a blob lives; safe because `Digest` only ever holds 64 lowercase hex digits.
    public func blobPath(_ digest: Digest) -> String { blobsDirectory + "/" + digest.hex }

    /// Whether `path` is a directory holding an `oci-layout` file.
    public static func isLayout(_ path: String) -> Bool {
        LayoutIO.isDirectory(path) && LayoutIO.kind(path + "/oci-layout") == S_IFREG
    }

    // MARK: - Create / open

    /// Opens an existing layout; refuses a directory that is not one.
    public static func open(at path: String) throws -> OCILayout {
        let abs = absolute(path)
        guard LayoutIO.isDirectory(abs) else {
            if LayoutIO.kind(abs) == nil {
                throw OCIWriterError(.notFound, "OCI layout directory does not exist", path: abs)
            }
            throw OCIWriterError(.layout, "is not a directory, so not an OCI image layout", path: abs)
        }
        let layout = OCILayout(path: abs)
        try layout.checkLayoutFile()
        try layout.checkBlobDirectories()
        guard LayoutIO.kind(layout.indexPath) == S_IFREG else {
            throw OCIWriterError(.layout, "not a valid OCI image layout: index.json is missing", path: abs)
        }
        return layout
    }

    /// Opens the layout at `path`, creating it (and missing parent directories) when the directory does not exist
    /// or is empty. Refuses a non-empty directory that is not a layout.
    public static func create(at path: String) throws -> OCILayout {
        let abs = absolute(path)
        if LayoutIO.kind(abs) == nil {
            try LayoutIO.makeDirectories(abs)
        } else if !LayoutIO.isDirectory(abs) {
            throw OCIWriterError(
                .layout, "exists and is not a directory: cannot create an OCI image layout here", path: abs)
        }
        let layout = OCILayout(path: abs)
        if LayoutIO.kind(abs + "/oci-layout") == nil {
            // Tolerate what a concurrent creator may have put there already; refuse anything else.
            let entries = LayoutIO.listDirectory(abs) ?? []
            // `oci-layout` too: a concurrent creator may have finished between the check above and this listing.
            let foreign = entries.filter {
                $0 != "blobs" && $0 != "index.json" && $0 != "oci-layout" && !$0.hasPrefix(tempPrefix)
            }
            guard foreign.isEmpty else {
                let shown = foreign.prefix(5).joined(separator: ", ")
                throw OCIWriterError(
                    .layout,
                    "is not an OCI image layout (no oci-layout file) and is not empty (contains \(shown)\(foreign.count > 5 ? ", …" : "")): refusing to write into it; choose a new or empty directory",
                    path: abs)
            }
            try LayoutIO.makeDirectories(layout.blobsDirectory)
            // index.json before oci-layout: oci-layout is the marker a concurrent process takes as "a complete
            // layout" (`isLayout`, then `open`), so everything `open` needs must exist before it.
            if LayoutIO.kind(layout.indexPath) == nil {
                try layout.installIfMissing(layout.indexPath, try CanonicalJSON.encode(ImageIndex(manifests: [])))
            }
            try layout.installIfMissing(abs + "/oci-layout", layoutFileBytes)
        } else {
            try layout.checkLayoutFile()
            try layout.checkBlobDirectories()
            try LayoutIO.makeDirectories(layout.blobsDirectory)
        }
        if LayoutIO.kind(layout.indexPath) == nil {
            try layout.installIfMissing(layout.indexPath, try CanonicalJSON.encode(ImageIndex(manifests: [])))
        }
        try LayoutIO.fsyncDirectory(abs)
        return layout
    }

    private func installIfMissing(_ target: String, _ bytes: [UInt8]) throws {
        let (fd, tmp) = try LayoutIO.createTemporary(in: path, prefix: Self.tempPrefix)
        do {
            try LayoutIO.writeAll(fd, bytes, path: tmp)
            try LayoutIO.fsync(fd, path: tmp)
            close(fd)
        } catch {
            close(fd)
            LayoutIO.unlinkQuietly(tmp)
            throw error
        }
        if !(try LayoutIO.renameNoReplace(tmp, target)) { LayoutIO.unlinkQuietly(tmp) }
    }

    /// `blobs` and `blobs/sha256` must be real directories (a symlink could send writes elsewhere).
    private func checkBlobDirectories() throws {
        for dir in [path + "/blobs", blobsDirectory] {
            switch LayoutIO.kind(dir) {
            case nil, S_IFDIR?: continue
            case S_IFLNK?:
                throw OCIWriterError(
                    .layout, "is a symbolic link; an OCI layout's blob directories must be real directories", path: dir)
            default: throw OCIWriterError(.layout, "is not a directory", path: dir)
            }
        }
    }

    private struct LayoutFile: Codable { var imageLayoutVersion: String }

    private func checkLayoutFile() throws {
        let file = path + "/oci-layout"
        guard LayoutIO.kind(file) != nil else {
            throw OCIWriterError(.layout, "is not an OCI image layout: no oci-layout file", path: path)
        }
        let bytes = try LayoutIO.readFile(file, limit: 64 << 10)
        let doc = try CanonicalJSON.decode(LayoutFile.self, from: bytes, source: file)
        guard doc.imageLayoutVersion == "1.0.0" else {
            throw OCIWriterError(
                .layout, "unsupported imageLayoutVersion '\(doc.imageLayoutVersion)' (ociforge reads 1.0.0)", path: file
            )
        }
    }

    static func absolute(_ path: String) -> String {
        var p = path
        if !p.hasPrefix("/") {
            p = FileManager.default.currentDirectoryPath + "/" + p
        }
        // Lexical clean-up: collapse "//" and "/./", drop a trailing "/".
        var parts: [Substring] = []
        for c in p.split(separator: "/", omittingEmptySubsequences: true) where c != "." {
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    // MARK: - Writing blobs

    /// Stores `bytes` as a blob (skipped when already present) and returns its descriptor.
    @discardableResult
    public func writeBlob(bytes: [UInt8], mediaType: MediaType) throws -> Descriptor {
        let desc = Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: Int64(bytes.count))
        if existingBlobMatches(desc) { return desc }
        let writer = try beginBlob()
        try writer.write(bytes)
        return try writer.commit(mediaType: mediaType, expected: desc)
    }

    /// Stores an encoded document's exact bytes.
    @discardableResult
    public func writeBlob<T>(document: EncodedDocument<T>, mediaType: MediaType) throws -> Descriptor {
        try writeBlob(bytes: document.bytes, mediaType: mediaType)
    }

    /// Streams a blob from `read` (which fills the buffer and returns the byte count, 0 at the end), hashing while
    /// writing. When `expected` is given, size and digest must match or nothing is stored.
    @discardableResult
    public func writeBlob(
        mediaType: MediaType, expected: Descriptor? = nil,
        from read: (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws -> Descriptor {
        if let expected, existingBlobMatches(expected) {
            return Descriptor(mediaType: mediaType, digest: expected.digest, size: expected.size)
        }
        let writer = try beginBlob()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayoutIO.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try read(buffer)
            if n == 0 { break }
            precondition(n > 0 && n <= buffer.count, "reader returned an invalid byte count")
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        return try writer.commit(mediaType: mediaType, expected: expected)
    }

    /// A fresh, unused path under `blobs/` (same filesystem as the blobs) for a file to be imported later with
    /// `importBlob(file:expected:mode: .move)`, which then is a rename. Nothing is created.
    public func temporaryBlobPath(label: String = "file") -> String {
        path + "/blobs/" + Self.tempPrefix
            + "\(label)-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    }

    /// Removes temporary files (`.ociforge-tmp-*` in the layout and in `blobs/`) not modified for `age` seconds,
    /// left behind by writers that were killed. Recent ones may belong to a running writer and are kept.
    /// Returns the removed paths.
    @discardableResult
    public func removeStaleTemporaryFiles(olderThan age: Int = 24 * 3600) -> [String] {
        var removed: [String] = []
        let now = time(nil)
        for dir in [path, path + "/blobs"] {
            for name in LayoutIO.listDirectory(dir) ?? [] where name.hasPrefix(Self.tempPrefix) {
                let file = dir + "/" + name
                var st = stat()
                guard lstat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                if Int(now - st.st_mtim.tv_sec) >= age, unlink(file) == 0 { removed.append(file) }
            }
        }
        return removed
    }

    /// Starts a streamed blob write (for data arriving in chunks, e.g. an HTTP body).
    public func beginBlob() throws -> BlobWriter {
        try BlobWriter(layout: self)
    }

    public enum ImportMode: Sendable {
        /// Rename the file into the layout (same filesystem), else copy it and remove the original.
        case move
        /// Copy the file, leaving the original in place.
        case copy
    }

    /// Brings a finished file (e.g. a layer just written to a temp file) into the layout after checking its size
    /// and digest against `expected`. Nothing is stored when they differ.
    public func importBlob(file: String, expected: Descriptor, mode: ImportMode = .move) throws {
        let target = blobPath(expected.digest)
        if existingBlobMatches(expected) {
            if mode == .move && !LayoutIO.sameFile(file, target) { LayoutIO.unlinkQuietly(file) }
            return
        }
        if mode == .move {
            let fd = try LayoutIO.openRegularFile(file)
            do {
                try Self.check(fd: fd, path: file, against: expected)
                _ = fchmod(fd, 0o644)
                try LayoutIO.fsync(fd, path: file)
                close(fd)
            } catch {
                close(fd)
                throw error
            }
            if Glibc.rename(file, target) == 0 {
                try LayoutIO.fsyncDirectory(blobsDirectory)
                return
            }
            let e = errno
            guard e == EXDEV else {
                throw OCIWriterError.sys("cannot move '\(file)' into the layout", path: target, errno: e)
            }
        }
        try copyFileIn(file, expected: expected)
        if mode == .move { LayoutIO.unlinkQuietly(file) }
    }

    /// Copies a blob from another layout, verifying it on the way (skipped when already present here).
    public func copyBlob(_ descriptor: Descriptor, from source: OCILayout) throws {
        if source.path == path {
            guard existingBlobMatches(descriptor, rehash: false) else {
                throw OCIWriterError(
                    .notFound, "blob \(descriptor.digest) (\(descriptor.size) bytes) is missing or has the wrong size",
                    path: blobPath(descriptor.digest))
            }
            return
        }
        try copyFileIn(source.blobPath(descriptor.digest), expected: descriptor)
    }

    private func copyFileIn(_ file: String, expected: Descriptor) throws {
        if existingBlobMatches(expected) { return }
        let fd = try LayoutIO.openRegularFile(file)
        defer { close(fd) }
        let writer = try beginBlob()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayoutIO.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try LayoutIO.read(fd, into: buffer, path: file)
            if n == 0 { break }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            if writer.bytesWritten > expected.size { break }
        }
        do {
            _ = try writer.commit(mediaType: expected.mediaType, expected: expected)
        } catch var e as OCIWriterError {
            e.path = file
            throw e
        }
    }

    /// Whether the blob exists with the descriptor's size (and, with `rehash`, its digest).
    func existingBlobMatches(_ d: Descriptor, rehash: Bool = true) -> Bool {
        guard let fd = try? LayoutIO.openRegularFile(blobPath(d.digest)) else { return false }
        defer { close(fd) }
        guard (try? LayoutIO.fileSize(fd, path: "")) == d.size else { return false }
        if !rehash { return true }
        return (try? Self.check(fd: fd, path: "", against: d)) != nil
    }

    /// Hashes an open file from its current offset and compares with `expected`.
    static func check(fd: Int32, path: String, against expected: Descriptor) throws {
        var hasher = SHA256Hasher()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayoutIO.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try LayoutIO.read(fd, into: buffer, path: path)
            if n == 0 { break }
            total += Int64(n)
            if total > expected.size { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        guard total == expected.size else {
            throw OCIWriterError(
                .sizeMismatch,
                "size mismatch for \(expected.digest): expected \(expected.size) bytes, found \(total > expected.size ? "more" : "\(total)")",
                path: path)
        }
        let got = hasher.finalize()
        guard got == expected.digest else {
            throw OCIWriterError(
                .digestMismatch, "digest mismatch: expected \(expected.digest), content hashes to \(got)", path: path)
        }
    }

    // MARK: - Reading blobs

    public func hasBlob(_ digest: Digest) -> Bool {
        LayoutIO.kind(blobPath(digest)) == S_IFREG
    }

    /// Reads a whole blob (at most `limit` bytes) and verifies its size and digest.
    public func readBlob(_ digest: Digest, expectedSize: Int64, limit: Int = OCILayout.documentLimit) throws -> [UInt8]
    {
        let file = blobPath(digest)
        guard expectedSize <= Int64(limit) else {
            throw OCIWriterError(
                .limitExceeded,
                "blob \(digest) is declared as \(expectedSize) bytes, more than the \(limit)-byte limit for documents read into memory",
                path: file)
        }
        let bytes: [UInt8]
        do {
            bytes = try LayoutIO.readFile(file, limit: limit)
        } catch let e as OCIWriterError where e.code == .notFound {
            throw OCIWriterError(.notFound, "blob \(digest) is missing from the layout", path: file)
        } catch let e as OCIWriterError where e.code == .limitExceeded {
            throw OCIWriterError(
                .sizeMismatch, "size mismatch for \(digest): expected \(expectedSize) bytes, the file is larger",
                path: file)
        }
        guard Int64(bytes.count) == expectedSize else {
            throw OCIWriterError(
                .sizeMismatch, "size mismatch for \(digest): expected \(expectedSize) bytes, found \(bytes.count)",
                path: file)
        }
        let got = Digest.of(bytes)
        guard got == digest else {
            throw OCIWriterError(
                .digestMismatch, "digest mismatch: expected \(digest), content hashes to \(got)", path: file)
        }
        return bytes
    }

    public func readBlob(_ descriptor: Descriptor, limit: Int = OCILayout.documentLimit) throws -> [UInt8] {
        try readBlob(descriptor.digest, expectedSize: descriptor.size, limit: limit)
    }

    /// Opens a blob for streaming; the reader verifies size and digest when it reaches the end.
    public func openBlob(_ descriptor: Descriptor) throws -> VerifyingBlobReader {
        let file = blobPath(descriptor.digest)
        do {
            return try VerifyingBlobReader(path: file, expected: descriptor)
        } catch let e as OCIWriterError where e.code == .notFound {
            throw OCIWriterError(.notFound, "blob \(descriptor.digest) is missing from the layout", path: file)
        }
    }

    /// Re-hashes a blob and checks its size and digest.
    public func verifyBlob(_ descriptor: Descriptor) throws {
        let reader = try openBlob(descriptor)
        defer { reader.close() }
        try reader.drain()
    }

    /// Reads and decodes a JSON blob, keeping its exact bytes.
    public func readDocument<T: Codable & Sendable>(_ type: T.Type, _ descriptor: Descriptor) throws -> EncodedDocument<
        T
    > {
        let bytes = try readBlob(descriptor)
        return try EncodedDocument<T>(bytes: bytes, source: "blob \(descriptor.digest) (\(descriptor.mediaType))")
    }
}

/// Streaming blob writer: bytes go to a temp file under `blobs/`, hashed as they are written; `commit` verifies,
/// fsyncs, renames to `blobs/sha256/<hex>` and fsyncs the directory. Dropped without `commit`, it removes the
/// temp file.
public final class BlobWriter {
    public let layout: OCILayout
    private var fd: Int32
    private let tempPath: String
    private var hasher: SHA256Hasher?
    private var finished = false
    public private(set) var bytesWritten: Int64 = 0

    init(layout: OCILayout) throws {
        self.layout = layout
        let (fd, path) = try LayoutIO.createTemporary(in: layout.path + "/blobs", prefix: OCILayout.tempPrefix)
        self.fd = fd
        self.tempPath = path
        self.hasher = SHA256Hasher()
    }

    deinit { abort() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0, !finished else {
            throw OCIWriterError(.io, "blob writer already committed or aborted", path: tempPath)
        }
        hasher!.update(bytes)
        try LayoutIO.writeAll(fd, bytes, path: tempPath)
        bytesWritten += Int64(bytes.count)
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Finishes the blob. With `expected`, a size or digest difference throws and stores nothing.
    @discardableResult
    public func commit(mediaType: MediaType, expected: Descriptor? = nil) throws -> Descriptor {
        guard !finished, fd >= 0, let h = hasher.take() else {
            throw OCIWriterError(.io, "blob writer already committed or aborted", path: tempPath)
        }
        let digest = h.finalize()
        do {
            if let expected {
                guard bytesWritten == expected.size else {
                    throw OCIWriterError(
                        .sizeMismatch,
                        "size mismatch for \(expected.digest): expected \(expected.size) bytes, got \(bytesWritten)")
                }
                guard digest == expected.digest else {
                    throw OCIWriterError(
                        .digestMismatch, "digest mismatch: expected \(expected.digest), content hashes to \(digest)")
                }
            }
            try LayoutIO.fsync(fd, path: tempPath)
            close(fd)
            fd = -1
            try LayoutIO.rename(tempPath, layout.blobPath(digest))
            finished = true
            try LayoutIO.fsyncDirectory(layout.blobsDirectory)
        } catch {
            abort()
            throw error
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: bytesWritten)
    }

    /// Discards the temp file (no-op after commit).
    public func abort() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            finished = true
            LayoutIO.unlinkQuietly(tempPath)
        }
    }
}

/// Reads a blob sequentially; at end of file (a `read` returning 0) it has checked the size and digest and
/// throws on a mismatch, so consumers never see an unverified end of stream.
public final class VerifyingBlobReader {
    public let path: String
    public let expected: Descriptor
    private var fd: Int32
    private var hasher: SHA256Hasher?
    public private(set) var bytesRead: Int64 = 0

    init(path: String, expected: Descriptor) throws {
        self.path = path
        self.expected = expected
        self.fd = try LayoutIO.openRegularFile(path)
        self.hasher = SHA256Hasher()
        let size = try LayoutIO.fileSize(fd, path: path)
        guard size == expected.size else {
            Glibc.close(fd)
            throw OCIWriterError(
                .sizeMismatch, "size mismatch for \(expected.digest): expected \(expected.size) bytes, found \(size)",
                path: path)
        }
    }

    deinit { close() }

    /// Fills `buffer` (not empty) with up to its size; returns 0 at the verified end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        precondition(buffer.count > 0, "read(into:) needs a non-empty buffer")
        guard fd >= 0 else { return 0 }
        let remaining = expected.size - bytesRead
        // Read one byte beyond the declared size to notice a file that grew.
        let want = Int(min(Int64(buffer.count), remaining + 1))
        let n = try LayoutIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]), path: path)
        if n == 0 {
            try finish()
            return 0
        }
        bytesRead += Int64(n)
        guard bytesRead <= expected.size else {
            throw OCIWriterError(
                .sizeMismatch,
                "size mismatch for \(expected.digest): the file is larger than the expected \(expected.size) bytes",
                path: path)
        }
        hasher!.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        return n
    }

    /// Reads to the end, verifying.
    public func drain() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayoutIO.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while try read(into: buffer) > 0 {}
    }

    private func finish() throws {
        guard let h = hasher.take() else { return }
        close()
        guard bytesRead == expected.size else {
            throw OCIWriterError(
                .sizeMismatch,
                "size mismatch for \(expected.digest): expected \(expected.size) bytes, found \(bytesRead)", path: path)
        }
        let got = h.finalize()
        guard got == expected.digest else {
            throw OCIWriterError(
                .digestMismatch, "digest mismatch: expected \(expected.digest), content hashes to \(got)", path: path)
        }
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
