import CZlib
import CZstd

#if canImport(Glibc)
    import Glibc
#endif

/// What a layer blob hashes to: the blob digest and size, and the diffID and size of the tar inside.
public struct LayerBlobDigests: Sendable, Hashable {
    public var digest: Digest
    public var size: Int64
    public var diffID: Digest
    public var uncompressedSize: Int64
}

/// Streams a layer blob once: hashes the compressed bytes, decompresses them (gzip via zlib, zstd via libzstd,
/// or none) and hashes the tar, without holding the layer in memory. With `limits`, decompression stops as soon
/// as the tar passes the per-layer size or the expansion ratio (`image verify` of a decompression bomb costs no
/// more than extracting it would).
public struct LayerBlobDigester: ~Copyable {
    private var blobHasher = SHA256Hasher()
    private var tarHasher = SHA256Hasher()
    private var blobSize: Int64 = 0
    private var tarSize: Int64 = 0
    private let decoder: (any LayerStreamDecoder)?
    private let limits: ExtractionLimits?
    private let name: String

    /// `limits` nil: no bound (layers ociforge wrote itself); `name` names the layer in a limit error.
    public init(compression: LayerCompression, limits: ExtractionLimits? = nil, name: String = "") throws {
        self.limits = limits
        self.name = name
        switch compression {
        case .none: decoder = nil
        case .gzip: decoder = try LayoutGzipDecoder()
        case .zstd: decoder = try LayoutZstdDecoder()
        }
    }

    public mutating func update(_ chunk: UnsafeRawBufferPointer) throws {
        blobHasher.update(chunk)
        blobSize += Int64(chunk.count)
        if let decoder {
            var produced: Int64 = 0
            let before = tarSize, compressed = UInt64(blobSize)
            let (limits, name) = (self.limits, self.name)
            try decoder.feed(chunk) { out in
                tarHasher.update(out)
                produced += Int64(out.count)
                if let e = limits?.exceeded(
                    subject: "layer \(name)", path: name, uncompressed: UInt64(before + produced),
                    compressed: compressed)
                {
                    throw e
                }
            }
            tarSize += produced
        } else {
            tarSize += Int64(chunk.count)  // uncompressed: the diffID is the blob digest
            if let e = limits?.exceeded(
                subject: "layer \(name)", path: name, uncompressed: UInt64(tarSize), compressed: nil)
            {
                throw e
            }
        }
    }

    /// Ends the stream; throws when the compressed stream is truncated.
    public consuming func finalize() throws -> LayerBlobDigests {
        try decoder?.finish()
        let size = blobSize, usize = tarSize, plain = decoder == nil
        let digest = blobHasher.finalize()
        let diffID = plain ? digest : tarHasher.finalize()
        return LayerBlobDigests(digest: digest, size: size, diffID: diffID, uncompressedSize: usize)
    }

    /// Digests a layer file at `path` in one pass, within `limits` when given (`name` names the layer then).
    public static func digest(
        file path: String, compression: LayerCompression, limits: ExtractionLimits? = nil, name: String? = nil
    ) throws -> LayerBlobDigests {
        let fd = try LayoutIO.openRegularFile(path)
        defer { close(fd) }
        var d = try LayerBlobDigester(compression: compression, limits: limits, name: name ?? path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayoutIO.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try LayoutIO.read(fd, into: buffer, path: path)
            if n == 0 { break }
            do {
                try d.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            } catch var e as OCIWriterError {
                if e.path == nil { e.path = path }
                throw e
            }
        }
        do {
            return try d.finalize()
        } catch var e as OCIWriterError {
            if e.path == nil { e.path = path }
            throw e
        }
    }
}

protocol LayerStreamDecoder: AnyObject {
    /// Decompresses `input`, handing each produced chunk to `sink`; an error of `sink` stops decompression.
    func feed(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws
    func finish() throws
}

/// gzip (one or more members) via zlib's inflate with automatic header detection (windowBits 15+32).
final class LayoutGzipDecoder: LayerStreamDecoder {
    // zlib keeps a back pointer to the z_stream: it must not move, hence a heap allocation.
    private let strm: UnsafeMutablePointer<z_stream>
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
    private var memberEnded = false
    private var sawInput = false

    init() throws {
        strm = .allocate(capacity: 1)
        strm.initialize(to: z_stream())
        let r = ociforge_inflateInit2(strm, 15 + 32)
        guard r == Z_OK else {
            strm.deinitialize(count: 1)
            strm.deallocate()
            out.deallocate()
            throw OCIWriterError(.compression, "inflateInit2 failed (zlib error \(r))")
        }
    }

    deinit {
        inflateEnd(strm)
        strm.deinitialize(count: 1)
        strm.deallocate()
        out.deallocate()
    }

    func feed(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        sawInput = true
        strm.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        strm.pointee.avail_in = uInt(input.count)
        while true {
            if memberEnded {
                // Another gzip member follows (concatenated gzip is valid).
                guard inflateReset(strm) == Z_OK else { throw OCIWriterError(.compression, "inflateReset failed") }
                memberEnded = false
            }
            strm.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            strm.pointee.avail_out = uInt(out.count)
            let r = inflate(strm, Z_NO_FLUSH)
            let produced = out.count - Int(strm.pointee.avail_out)
            if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[..<produced])) }
            switch r {
            case Z_STREAM_END:
                memberEnded = true
                if strm.pointee.avail_in == 0 { return }
            case Z_OK:
                if strm.pointee.avail_in == 0 && strm.pointee.avail_out != 0 { return }
            case Z_BUF_ERROR:
                if strm.pointee.avail_in == 0 { return }
                throw OCIWriterError(.compression, "corrupt gzip stream (no progress possible)")
            default:
                let msg = strm.pointee.msg.map { String(cString: $0) } ?? "zlib error \(r)"
                throw OCIWriterError(
                    .compression,
                    "corrupt gzip stream: \(msg) after \(strm.pointee.total_in) compressed bytes of the current member")
            }
        }
    }

    func finish() throws {
        guard sawInput else { throw OCIWriterError(.compression, "empty gzip stream") }
        guard memberEnded else {
            throw OCIWriterError(
                .compression, "truncated gzip stream (ended before the end of the deflate data and trailer)")
        }
    }
}

/// zstd (one or more frames) via ZSTD_decompressStream.
final class LayoutZstdDecoder: LayerStreamDecoder {
    private let ds: OpaquePointer
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
    private var lastHint = 0
    private var sawInput = false

    init() throws {
        guard let ds = ZSTD_createDStream() else {
            out.deallocate()
            throw OCIWriterError(.compression, "ZSTD_createDStream failed: out of memory")
        }
        self.ds = ds
        let r = ZSTD_initDStream(ds)
        if ZSTD_isError(r) != 0 {
            throw OCIWriterError(.compression, "ZSTD_initDStream failed: \(String(cString: ZSTD_getErrorName(r)))")
        }
    }

    deinit {
        ZSTD_freeDStream(ds)
        out.deallocate()
    }

    func feed(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        sawInput = true
        var inb = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while true {
            var outb = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let r = ZSTD_decompressStream(ds, &outb, &inb)
            if ZSTD_isError(r) != 0 {
                throw OCIWriterError(.compression, "corrupt zstd stream: \(String(cString: ZSTD_getErrorName(r)))")
            }
            if outb.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[..<outb.pos])) }
            lastHint = r
            if inb.pos == inb.size && outb.pos < outb.size { return }
        }
    }

    func finish() throws {
        guard sawInput else { throw OCIWriterError(.compression, "empty zstd stream") }
        guard lastHint == 0 else { throw OCIWriterError(.compression, "truncated zstd stream (frame not complete)") }
    }
}
