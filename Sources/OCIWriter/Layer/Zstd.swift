import CZstd

/// Streaming zstd (one frame, content checksum on, no dictionary).
///
/// Uses libzstd's multi-threaded mode with `max(1, threads)` workers: in that mode the output depends on the
/// level and the library version, not on the worker count. Input is fed in fixed 1 MiB blocks.
public final class ZstdCompressor: ByteSink {
    public let level: Int
    private let cctx: OpaquePointer
    private let downstream: ByteSink
    private let out: UnsafeMutableRawBufferPointer
    private let block: UnsafeMutableRawBufferPointer
    private var used = 0
    private var finished = false

    public static let defaultLevel = 3

    /// e.g. `zstd-3 (libzstd 1.5.4)`.
    public static func describe(level: Int) -> String {
        "zstd-\(level) (libzstd \(String(cString: ZSTD_versionString())))"
    }

    public init(level: Int = ZstdCompressor.defaultLevel, threads: Int = 1, downstream: ByteSink) throws {
        guard (1...19).contains(level) else {
            throw OCIWriterError(.invalidArgument, "zstd level \(level) is out of range: use 1...19")
        }
        guard let c = ZSTD_createCCtx() else {
            throw OCIWriterError(.compression, "ZSTD_createCCtx failed: out of memory")
        }
        self.level = level
        self.cctx = c
        self.downstream = downstream
        out = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
        block = .allocate(byteCount: 1 << 20, alignment: 64)
        for (param, value) in [
            (ZSTD_c_compressionLevel, Int32(level)), (ZSTD_c_checksumFlag, 1),
            (ZSTD_c_nbWorkers, Int32(max(1, threads)))
        ] {
            let r = ZSTD_CCtx_setParameter(c, param, value)
            if ZSTD_isError(r) != 0 {
                throw OCIWriterError(
                    .compression,
                    "zstd parameter \(param.rawValue)=\(value) refused: \(String(cString: ZSTD_getErrorName(r)))")
            }
        }
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        out.deallocate()
        block.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "ZstdCompressor.write after finish")
        var offset = 0
        while offset < bytes.count {
            if used == block.count {
                try compress(UnsafeRawBufferPointer(block), end: false)
                used = 0
            }
            let n = min(block.count - used, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: block[used..<(used + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            used += n
            offset += n
        }
    }

    public func finish() throws {
        guard !finished else { return }
        try compress(UnsafeRawBufferPointer(rebasing: block[0..<used]), end: true)
        used = 0
        finished = true
        try downstream.finish()
    }

    private func compress(_ input: UnsafeRawBufferPointer, end: Bool) throws {
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var outBuf = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &outBuf, &inBuf, end ? ZSTD_e_end : ZSTD_e_continue)
            if ZSTD_isError(remaining) != 0 {
                throw OCIWriterError(
                    .compression, "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            if outBuf.pos > 0 { try downstream.write(UnsafeRawBufferPointer(rebasing: out[0..<outBuf.pos])) }
            if end {
                if remaining == 0 { break }
            } else if inBuf.pos == inBuf.size {
                break
            }
        }
    }
}
