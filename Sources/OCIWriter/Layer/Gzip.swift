import CISAL
import CZlib
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The deflate implementation (and level) behind a gzip stream. Compressed bytes — and so layer digests — are
/// reproducible only for the same engine, level, chunking and library version, which is why the layer
/// writer records `GzipSettings.description` in its result.
public enum GzipEngine: Sendable, Hashable, CustomStringConvertible {
    /// Intel ISA-L igzip (`libisal`), levels 0...3.
    case isal(level: Int)
    /// zlib (`libz`, Debian's 1.2.13 pinned by the package), levels 0...9.
    case zlib(level: Int)

    /// ISA-L level 1: see `LayerWriteOptions` for the measured reasons.
    public static let `default` = GzipEngine.isal(level: 1)

    public var level: Int {
        switch self {
        case .isal(let l), .zlib(let l): return l
        }
    }

    public var description: String {
        switch self {
        case .isal(let l): return "isal-\(l)"
        case .zlib(let l): return "zlib-\(l)"
        }
    }

    /// Parses `isal`, `zlib`, `isal-2`, `zlib-9`; `level` overrides or supplies the level.
    public init(parsing s: String, level: Int? = nil) throws {
        let parts = s.lowercased().split(separator: "-", maxSplits: 1).map(String.init)
        let lv: Int?
        if parts.count == 2 {
            guard let n = Int(parts[1]) else {
                throw OCIWriterError(
                    .invalidArgument, "invalid gzip engine '\(s)': expected isal, zlib, isal-<0..3> or zlib-<0..9>")
            }
            lv = level ?? n
        } else {
            lv = level
        }
        switch parts.first {
        case "isal": self = .isal(level: lv ?? 1)
        case "zlib": self = .zlib(level: lv ?? 6)
        default:
            throw OCIWriterError(.invalidArgument, "unknown gzip engine '\(s)': expected isal or zlib")
        }
        try validate()
    }

    public func validate() throws {
        switch self {
        case .isal(let l) where !(0...3).contains(l):
            throw OCIWriterError(.invalidArgument, "ISA-L gzip level \(l) is out of range: use 0...3")
        case .zlib(let l) where !(0...9).contains(l):
            throw OCIWriterError(.invalidArgument, "zlib gzip level \(l) is out of range: use 0...9")
        default: return
        }
    }

    /// The XFL byte of the gzip header (zlib's convention: 2 = best, 4 = fastest, else 0).
    var extraFlags: UInt8 {
        switch self {
        case .zlib(let l): return l == 9 ? 2 : (l < 2 ? 4 : 0)
        case .isal: return 0
        }
    }
}

/// Everything that determines the bytes of a gzip stream written by `GzipCompressor`.
public struct GzipSettings: Sendable, Hashable, CustomStringConvertible {
    public var engine: GzipEngine
    /// 0: one deflate stream. Otherwise the input is cut into blocks of this size, each compressed
    /// independently (primed with the previous 32 KiB as dictionary, ended by a sync flush), so that blocks
    /// can be compressed in parallel with output identical for any thread count.
    public var chunkSize: Int

    public static let defaultChunkSize = 1 << 20

    public init(engine: GzipEngine = .default, chunkSize: Int = GzipSettings.defaultChunkSize) {
        self.engine = engine
        self.chunkSize = chunkSize
    }

    public func validate() throws {
        try engine.validate()
        guard chunkSize == 0 || (chunkSize >= 64 << 10 && chunkSize <= 64 << 20) else {
            throw OCIWriterError(
                .invalidArgument, "gzip chunk size \(chunkSize) is out of range: use 0 (one stream) or 64 KiB...64 MiB")
        }
    }

    /// e.g. `gzip isal-1 chunk=1048576 (isa-l 2.30.0)`; `chunk=0` is one deflate stream.
    public var description: String {
        let lib: String
        switch engine {
        case .isal: lib = "isa-l \(ISAL_MAJOR_VERSION).\(ISAL_MINOR_VERSION).\(ISAL_PATCH_VERSION)"
        case .zlib: lib = "zlib \(String(cString: zlibVersion()))"
        }
        return "gzip \(engine) chunk=\(chunkSize) (\(lib))"
    }
}

// MARK: - Raw deflate engines

enum DeflateMode { case none, sync, finish }

/// One raw-deflate stream (no header/trailer) over an engine. Not thread-safe: one per thread.
protocol RawDeflater: AnyObject {
    /// Starts a new stream, primed with `dictionary` (up to 32 KiB of preceding input).
    func reset(dictionary: UnsafeRawBufferPointer?) throws
    /// Compresses `input`; with `.sync` the output ends byte-aligned, `.finish` ends the stream.
    func deflate(_ input: UnsafeRawBufferPointer, mode: DeflateMode, emit: (UnsafeRawBufferPointer) throws -> Void)
        throws
}

func makeRawDeflater(_ engine: GzipEngine) throws -> RawDeflater {
    switch engine {
    case .isal(let l): return ISALDeflater(level: l)
    case .zlib(let l): return try ZlibDeflater(level: l)
    }
}

final class ZlibDeflater: RawDeflater {
    private let strm: UnsafeMutablePointer<z_stream>
    private let out: UnsafeMutableRawBufferPointer
    private let level: Int32

    init(level: Int) throws {
        self.level = Int32(level)
        strm = .allocate(capacity: 1)
        memset(strm, 0, MemoryLayout<z_stream>.size)
        out = .allocate(byteCount: 256 << 10, alignment: 64)
        let r = ociforge_deflateInit2(strm, Int32(level), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)
        guard r == Z_OK else {
            strm.deallocate()
            out.deallocate()
            throw OCIWriterError(.compression, "zlib deflateInit2 failed (\(r))")
        }
    }

    deinit {
        deflateEnd(strm)
        strm.deallocate()
        out.deallocate()
    }

    func reset(dictionary: UnsafeRawBufferPointer?) throws {
        guard deflateReset(strm) == Z_OK else { throw OCIWriterError(.compression, "zlib deflateReset failed") }
        if let d = dictionary, d.count > 0 {
            let r = deflateSetDictionary(strm, d.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(d.count))
            guard r == Z_OK else { throw OCIWriterError(.compression, "zlib deflateSetDictionary failed (\(r))") }
        }
    }

    func deflate(_ input: UnsafeRawBufferPointer, mode: DeflateMode, emit: (UnsafeRawBufferPointer) throws -> Void)
        throws
    {
        let flush: Int32 = mode == .finish ? Z_FINISH : (mode == .sync ? Z_SYNC_FLUSH : Z_NO_FLUSH)
        strm.pointee.next_in =
            input.count > 0
            ? UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self)) : nil
        strm.pointee.avail_in = uInt(input.count)
        while true {
            strm.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            strm.pointee.avail_out = uInt(out.count)
            let r = CZlib.deflate(strm, flush)
            guard r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR else {
                throw OCIWriterError(.compression, "zlib deflate failed (\(r))")
            }
            let produced = out.count - Int(strm.pointee.avail_out)
            if produced > 0 { try emit(UnsafeRawBufferPointer(rebasing: out[0..<produced])) }
            if strm.pointee.avail_out != 0 && strm.pointee.avail_in == 0 { break }
            if r == Z_STREAM_END { break }
        }
    }
}

final class ISALDeflater: RawDeflater {
    private let strm: UnsafeMutablePointer<isal_zstream>
    private let out: UnsafeMutableRawBufferPointer
    private let levelBuf: UnsafeMutableRawBufferPointer?
    private let level: UInt32

    /// ISA-L's `ISAL_DEF_LVLn_LARGE` sizes (the header's macros do not import into Swift). The level buffer
    /// size changes the output, so it is pinned here.
    static func levelBufferSize(_ level: Int) -> Int {
        let k = 1024
        switch level {
        case 1: return 4 * k + 2 * (8 * k) + 4 * 64 * k
        case 2: return 4 * k + 2 * (32 * k) + 4 * 64 * k
        case 3: return 4 * k + 4 * 4 * k + 2 * (32 * k) + 4 * 64 * k
        default: return 0
        }
    }

    init(level: Int) {
        self.level = UInt32(level)
        strm = .allocate(capacity: 1)
        memset(strm, 0, MemoryLayout<isal_zstream>.size)
        out = .allocate(byteCount: 256 << 10, alignment: 64)
        let n = Self.levelBufferSize(level)
        levelBuf = n > 0 ? .allocate(byteCount: n, alignment: 64) : nil
    }

    deinit {
        strm.deallocate()
        out.deallocate()
        levelBuf?.deallocate()
    }

    func reset(dictionary: UnsafeRawBufferPointer?) throws {
        isal_deflate_init(strm)
        strm.pointee.level = level
        strm.pointee.level_buf = levelBuf?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        strm.pointee.level_buf_size = UInt32(levelBuf?.count ?? 0)
        strm.pointee.gzip_flag = 0
        strm.pointee.hist_bits = 0
        strm.pointee.flush = UInt16(NO_FLUSH)
        strm.pointee.end_of_stream = 0
        if let d = dictionary, d.count > 0 {
            let r = isal_deflate_set_dict(
                strm, UnsafeMutablePointer(mutating: d.baseAddress!.assumingMemoryBound(to: UInt8.self)),
                UInt32(d.count))
            guard r == COMP_OK else { throw OCIWriterError(.compression, "isal_deflate_set_dict failed (\(r))") }
        }
    }

    func deflate(_ input: UnsafeRawBufferPointer, mode: DeflateMode, emit: (UnsafeRawBufferPointer) throws -> Void)
        throws
    {
        strm.pointee.flush = UInt16(mode == .sync ? SYNC_FLUSH : NO_FLUSH)
        strm.pointee.end_of_stream = mode == .finish ? 1 : 0
        strm.pointee.next_in =
            input.count > 0
            ? UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self)) : nil
        strm.pointee.avail_in = UInt32(input.count)
        var idle = 0
        while true {
            strm.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            strm.pointee.avail_out = UInt32(out.count)
            let before = strm.pointee.avail_in
            let r = isal_deflate(strm)
            guard r == COMP_OK else { throw OCIWriterError(.compression, "isal_deflate failed (\(r))") }
            let produced = out.count - Int(strm.pointee.avail_out)
            if produced > 0 { try emit(UnsafeRawBufferPointer(rebasing: out[0..<produced])) }
            let done =
                strm.pointee.avail_in == 0 && strm.pointee.avail_out != 0
                && (mode != .finish || strm.pointee.internal_state.state == ZSTATE_END)
            if done { break }
            if produced == 0 && strm.pointee.avail_in == before {
                idle += 1
                if idle > 4 { throw OCIWriterError(.compression, "isal_deflate made no progress") }
            } else {
                idle = 0
            }
        }
    }
}

/// CRC-32 (gzip polynomial) via ISA-L's PCLMUL implementation.
@inline(__always) func crc32Update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard bytes.count > 0 else { return crc }
    return crc32_gzip_refl(crc, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
}

@inline(__always) func crc32Combine(_ a: UInt32, _ b: UInt32, length: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: crc32_combine(uLong(a), uLong(b), Int(length)))
}

// MARK: - gzip sink

/// Streaming gzip: one gzip member, header with mtime 0, no file name, OS byte 255 (unknown).
///
/// With `settings.chunkSize > 0` and `threads > 1` blocks are compressed on `threads` worker threads while the
/// caller keeps producing input; the output does not depend on `threads` (a `threads == 1` run compresses the
/// same blocks inline). Memory is bounded: at most `2 × threads` blocks in flight.
public final class GzipCompressor: ByteSink {
    public let settings: GzipSettings
    private let downstream: ByteSink
    private var pending: UnsafeMutableRawBufferPointer
    private var used = 0
    private var crc: UInt32 = 0
    private var total: UInt64 = 0
    private var headerWritten = false
    private var finished = false
    /// Single stream or inline chunking.
    private var inline: RawDeflater?
    private var pool: DeflatePool?
    private var dictionary: [UInt8] = []

    public init(settings: GzipSettings = GzipSettings(), threads: Int = 1, downstream: ByteSink) throws {
        try settings.validate()
        self.settings = settings
        self.downstream = downstream
        let block = settings.chunkSize > 0 ? settings.chunkSize : GzipSettings.defaultChunkSize
        pending = .allocate(byteCount: block, alignment: 64)
        if settings.chunkSize > 0 && threads > 1 {
            pool = DeflatePool(engine: settings.engine, threads: threads)
        } else {
            let d = try makeRawDeflater(settings.engine)
            try d.reset(dictionary: nil)
            inline = d
        }
    }

    deinit {
        pool?.shutdown()
        pending.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "GzipCompressor.write after finish")
        try writeHeaderIfNeeded()
        var offset = 0
        while offset < bytes.count {
            if used == pending.count { try flushBlock(final: false) }
            let n = min(pending.count - used, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: pending[used..<(used + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            used += n
            offset += n
        }
    }

    public func finish() throws {
        guard !finished else { return }
        try writeHeaderIfNeeded()
        try flushBlock(final: true)
        if let pool {
            try pool.drainAll { try self.accept($0) }
            pool.shutdown()
        }
        var trailer = [UInt8](repeating: 0, count: 8)
        for i in 0..<4 {
            trailer[i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))
            trailer[4 + i] = UInt8(truncatingIfNeeded: UInt32(truncatingIfNeeded: total) >> (8 * UInt32(i)))
        }
        try downstream.write(trailer)
        finished = true
        try downstream.finish()
    }

    private func writeHeaderIfNeeded() throws {
        guard !headerWritten else { return }
        headerWritten = true
        try downstream.write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, settings.engine.extraFlags, 0xff])
    }

    /// Hands the filled block to the engine. Called for a full block only when more input follows, so the
    /// last block is never empty (except for empty input).
    private func flushBlock(final: Bool) throws {
        let block = UnsafeRawBufferPointer(rebasing: pending[0..<used])
        defer { used = 0 }
        if let inline {
            if settings.chunkSize == 0 {
                crc = crc32Update(crc, block)
                total &+= UInt64(block.count)
                try inline.deflate(block, mode: final ? .finish : .none) { try downstream.write($0) }
            } else {
                try dictionary.withUnsafeBytes { try inline.reset(dictionary: $0) }
                crc = crc32Combine(crc, crc32Update(0, block), length: block.count)
                total &+= UInt64(block.count)
                try inline.deflate(block, mode: final ? .finish : .sync) { try downstream.write($0) }
                updateDictionary(block)
            }
            return
        }
        let pool = pool!
        let input = Array(block)
        try pool.submit(DeflatePool.Job(input: input, dictionary: dictionary, final: final)) { try self.accept($0) }
        updateDictionary(block)
    }

    private func updateDictionary(_ block: UnsafeRawBufferPointer) {
        dictionary = Array(block.suffix(32 << 10))
    }

    private func accept(_ done: DeflatePool.Done) throws {
        crc = crc32Combine(crc, done.crc, length: done.length)
        total &+= UInt64(done.length)
        try downstream.write(done.output)
    }
}

/// Worker threads compressing independent blocks; results are handed back strictly in submission order.
final class DeflatePool: @unchecked Sendable {
    struct Job: Sendable {
        var input: [UInt8]
        var dictionary: [UInt8]
        var final: Bool
    }
    struct Done: Sendable {
        var output: [UInt8]
        var crc: UInt32
        var length: Int
    }

    private let cond = NSCondition()
    private var queue: [(Int, Job)] = []
    private var results: [Int: Done] = [:]
    private var failure: OCIWriterError?
    private var stopping = false
    private var running = 0
    private var nextSubmit = 0
    private var nextDeliver = 0
    private let maxInFlight: Int

    init(engine: GzipEngine, threads: Int) {
        maxInFlight = threads * 2
        running = threads
        for i in 0..<threads {
            let t = Thread { [self] in self.work(engine) }
            t.name = "ociforge-deflate-\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    private func work(_ engine: GzipEngine) {
        var deflater: RawDeflater?
        do { deflater = try makeRawDeflater(engine) } catch { fail(error) }
        while true {
            cond.lock()
            while queue.isEmpty && !stopping { cond.wait() }
            if stopping || deflater == nil {
                running -= 1
                cond.broadcast()
                cond.unlock()
                return
            }
            let (seq, job) = queue.removeFirst()
            cond.unlock()
            do {
                var out: [UInt8] = []
                out.reserveCapacity(job.input.count / 2 + 1024)
                try job.dictionary.withUnsafeBytes { try deflater!.reset(dictionary: $0) }
                let crc = job.input.withUnsafeBytes { crc32Update(0, $0) }
                try job.input.withUnsafeBytes { input in
                    try deflater!.deflate(input, mode: job.final ? .finish : .sync) { out.append(contentsOf: $0) }
                }
                cond.lock()
                results[seq] = Done(output: out, crc: crc, length: job.input.count)
                cond.broadcast()
                cond.unlock()
            } catch {
                fail(error)
            }
        }
    }

    private func fail(_ error: Error) {
        cond.lock()
        if failure == nil {
            failure = (error as? OCIWriterError) ?? OCIWriterError(.compression, "compression failed", cause: error)
        }
        cond.broadcast()
        cond.unlock()
    }

    /// Queues `job`; while too many blocks are in flight, delivers finished ones (in order) to `deliver`.
    func submit(_ job: Job, deliver: (Done) throws -> Void) throws {
        cond.lock()
        while nextSubmit - nextDeliver >= maxInFlight {
            if let f = failure {
                cond.unlock()
                throw f
            }
            if let d = results.removeValue(forKey: nextDeliver) {
                nextDeliver += 1
                cond.unlock()
                try deliver(d)
                cond.lock()
            } else {
                cond.wait()
            }
        }
        if let f = failure {
            cond.unlock()
            throw f
        }
        queue.append((nextSubmit, job))
        nextSubmit += 1
        cond.signal()
        var ready: [Done] = []
        while let d = results.removeValue(forKey: nextDeliver) {
            ready.append(d)
            nextDeliver += 1
        }
        cond.unlock()
        for d in ready { try deliver(d) }
    }

    /// Delivers every outstanding block in order.
    func drainAll(deliver: (Done) throws -> Void) throws {
        cond.lock()
        while nextDeliver < nextSubmit {
            if let f = failure {
                cond.unlock()
                throw f
            }
            if let d = results.removeValue(forKey: nextDeliver) {
                nextDeliver += 1
                cond.unlock()
                try deliver(d)
                cond.lock()
            } else {
                cond.wait()
            }
        }
        cond.unlock()
    }

    /// Stops the workers (idempotent); waits for them to exit.
    func shutdown() {
        cond.lock()
        stopping = true
        queue.removeAll()
        cond.broadcast()
        while running > 0 { cond.wait() }
        cond.unlock()
    }
}
