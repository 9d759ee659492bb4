import CZlib
import CZstd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads a layer blob from an fd and yields its uncompressed tar bytes, hashing both sides in the same pass:
/// the blob digest and size (compressed bytes) and the diffID (sha256 of the uncompressed tar). Compression is
/// detected from the magic bytes (gzip `1f 8b`, zstd `28 b5 2f fd`, otherwise none). Concatenated gzip members
/// and zstd frames are read as one stream. The uncompressed byte count is capped per layer, per image (what earlier
/// layers of the same unpack produced counts against `maxImageBytes`) and relative to the compressed bytes read
/// (decompression bombs).
final class LayerStream {
    let fd: Int32
    let name: String
    let limits: ExtractionLimits
    /// Uncompressed bytes earlier layers of the same image produced.
    let imageBytesBefore: UInt64
    private(set) var compression: LayerCompression = .none
    private(set) var compressedSize: UInt64 = 0
    private(set) var uncompressedSize: UInt64 = 0
    private var blobHasher = SHA256Hasher()
    private var diffHasher = SHA256Hasher()
    /// Set when a read fails; libarchive only sees -1.
    var failure: OCIWriterError?

    private let inCap = 1 << 20
    private let outCap = 1 << 20
    private let inBuf: UnsafeMutableRawPointer
    private let outBuf: UnsafeMutableRawPointer
    private var inStart = 0
    private var inEnd = 0
    private var inputEOF = false
    private var finished = false

    private var zs: UnsafeMutablePointer<z_stream>?
    private var gzipMemberDone = false
    private var zstd: OpaquePointer?

    init(fd: Int32, name: String, limits: ExtractionLimits, imageBytesBefore: UInt64 = 0) throws {
        self.fd = fd
        self.name = name
        self.limits = limits
        self.imageBytesBefore = imageBytesBefore
        inBuf = .allocate(byteCount: inCap, alignment: 64)
        outBuf = .allocate(byteCount: outCap, alignment: 64)
        try fill(atLeast: 4)
        let avail = inEnd - inStart
        let b = inBuf.assumingMemoryBound(to: UInt8.self)
        if avail >= 2 && b[0] == 0x1f && b[1] == 0x8b {
            compression = .gzip
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            guard ociforge_inflateInit2(z, 15 + 16) == Z_OK else {
                z.deallocate()
                throw OCIWriterError(.compression, "zlib inflateInit2 failed", path: name)
            }
            zs = z
        } else if avail >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd {
            compression = .zstd
            guard let d = ZSTD_createDStream() else {
                throw OCIWriterError(.compression, "ZSTD_createDStream failed", path: name)
            }
            ZSTD_initDStream(d)
            zstd = d
        }
    }

    deinit {
        if let zs {
            inflateEnd(zs)
            zs.deinitialize(count: 1)
            zs.deallocate()
        }
        if let zstd { ZSTD_freeDStream(zstd) }
        inBuf.deallocate()
        outBuf.deallocate()
    }

    /// Reads more compressed input (compacting the buffer) until `atLeast` bytes are buffered or EOF.
    private func fill(atLeast: Int = 1) throws {
        if inStart > 0 && inStart == inEnd {
            inStart = 0
            inEnd = 0
        }
        if inStart > 0 && inCap - inEnd < atLeast {
            memmove(inBuf, inBuf + inStart, inEnd - inStart)
            inEnd -= inStart
            inStart = 0
        }
        while inEnd - inStart < atLeast && !inputEOF && inEnd < inCap {
            let n = Glibc.read(fd, inBuf + inEnd, inCap - inEnd)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIWriterError(.io, "cannot read the layer", path: name, errno: errno)
            }
            if n == 0 {
                inputEOF = true
                break
            }
            blobHasher.update(UnsafeRawBufferPointer(start: inBuf + inEnd, count: n))
            compressedSize += UInt64(n)
            inEnd += n
        }
    }

    /// The next chunk of uncompressed bytes (valid until the next call); an empty buffer at the end.
    func next() throws -> UnsafeRawBufferPointer {
        if finished { return UnsafeRawBufferPointer(start: outBuf, count: 0) }
        var produced = 0
        switch compression {
        case .none:
            if inStart == inEnd { try fill() }
            produced = inEnd - inStart
            if produced > 0 {
                memcpy(outBuf, inBuf + inStart, produced)
                inStart = inEnd
            }
        case .gzip:
            produced = try inflateChunk()
        case .zstd:
            produced = try zstdChunk()
        }
        if produced == 0 { finished = true }
        uncompressedSize += UInt64(produced)
        try checkLimits()
        let out = UnsafeRawBufferPointer(start: outBuf, count: produced)
        diffHasher.update(out)
        return out
    }

    /// Fails when the bytes produced so far pass the per-layer, per-image or expansion-ratio limit.
    private func checkLimits() throws {
        if let e = limits.exceeded(
            subject: "layer \(name)", path: name, uncompressed: uncompressedSize,
            compressed: compression == .none ? nil : compressedSize,
            imageBytesBefore: imageBytesBefore)
        {
            throw e
        }
    }

    private func inflateChunk() throws -> Int {
        guard let z = zs else { return 0 }
        while true {
            if inStart == inEnd { try fill() }
            if gzipMemberDone {
                // Another member follows, or the stream ends.
                if inStart == inEnd && inputEOF { return 0 }
                try fill(atLeast: 2)
                let b = (inBuf + inStart).assumingMemoryBound(to: UInt8.self)
                guard inEnd - inStart >= 2, b[0] == 0x1f, b[1] == 0x8b else {
                    throw OCIWriterError(.compression, "layer \(name): trailing data after the gzip stream", path: name)
                }
                inflateReset(z)
                gzipMemberDone = false
            }
            if inStart == inEnd && inputEOF {
                throw OCIWriterError(.compression, "layer \(name): gzip stream is truncated", path: name)
            }
            z.pointee.next_in = (inBuf + inStart).assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_in = uInt(inEnd - inStart)
            z.pointee.next_out = outBuf.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_out = uInt(outCap)
            let r = inflate(z, Z_NO_FLUSH)
            let consumed = (inEnd - inStart) - Int(z.pointee.avail_in)
            inStart += consumed
            let produced = outCap - Int(z.pointee.avail_out)
            switch r {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: gzipMemberDone = true
            default:
                let msg = z.pointee.msg.map { String(cString: $0) } ?? "error \(r)"
                throw OCIWriterError(.compression, "layer \(name): corrupt gzip data (\(msg))", path: name)
            }
            if produced > 0 { return produced }
            if r == Z_BUF_ERROR && consumed == 0 && inputEOF {
                throw OCIWriterError(.compression, "layer \(name): gzip stream is truncated", path: name)
            }
        }
    }

    private var zstdFrameOpen = false

    private func zstdChunk() throws -> Int {
        guard let d = zstd else { return 0 }
        while true {
            if inStart == inEnd { try fill() }
            if inStart == inEnd && inputEOF {
                if zstdFrameOpen {
                    throw OCIWriterError(.compression, "layer \(name): zstd stream is truncated", path: name)
                }
                return 0
            }
            var input = ZSTD_inBuffer(src: inBuf + inStart, size: inEnd - inStart, pos: 0)
            var output = ZSTD_outBuffer(dst: outBuf, size: outCap, pos: 0)
            let r = ZSTD_decompressStream(d, &output, &input)
            if ZSTD_isError(r) != 0 {
                throw OCIWriterError(
                    .compression, "layer \(name): corrupt zstd data (\(String(cString: ZSTD_getErrorName(r))))",
                    path: name)
            }
            inStart += input.pos
            zstdFrameOpen = r != 0
            if output.pos > 0 { return output.pos }
        }
    }

    /// Reads what libarchive left (tar padding after the end marker) so the digests cover the whole blob.
    func drain() throws {
        while try next().count > 0 {}
        while !inputEOF {
            inStart = inEnd
            try fill()
        }
    }

    /// Digest of the compressed blob and diffID; call after `drain()`.
    func finish() -> (digest: Digest, diffID: Digest) {
        var b = SHA256Hasher()
        var d = SHA256Hasher()
        swap(&b, &blobHasher)
        swap(&d, &diffHasher)
        return (b.finalize(), d.finalize())
    }
}
