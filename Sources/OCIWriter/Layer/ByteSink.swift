#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A streaming consumer of bytes: tar writer → hashers → compressors → file.
///
/// Sinks are used from one thread at a time. `finish()` is called exactly once after the last `write`;
/// it flushes everything downstream (and finishes downstream sinks) but closes nothing it did not open.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func finish() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Hashes (sha256) and counts what passes through, then forwards it.
public final class DigestingSink: ByteSink {
    private var hasher: SHA256Hasher? = SHA256Hasher()
    private var finalDigest: Digest?
    public private(set) var count: Int64 = 0
    private let downstream: ByteSink?

    public init(forwardingTo downstream: ByteSink?) { self.downstream = downstream }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher?.update(bytes)
        count += Int64(bytes.count)
        try downstream?.write(bytes)
    }

    public func finish() throws {
        try downstream?.finish()
        if finalDigest == nil, let h = hasher.take() {
            finalDigest = h.finalize()
        }
    }

    /// The sha256 of everything written; valid after `finish()`.
    public var digest: Digest {
        guard let finalDigest else { preconditionFailure("DigestingSink.digest read before finish()") }
        return finalDigest
    }
}

/// Keeps everything in memory (tests and small documents only).
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var finished = false
    public init() {}
    public func write(_ buffer: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: buffer) }
    public func finish() throws { finished = true }
}

/// Writes to a file descriptor through a fixed-size buffer. Does not close or fsync the descriptor.
public final class FileDescriptorSink: ByteSink {
    public let fd: Int32
    private let path: String
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0

    /// `path` is only used in error messages.
    public init(fd: Int32, path: String, bufferSize: Int = 1 << 20) {
        self.fd = fd
        self.path = path
        self.buffer = .allocate(byteCount: max(bufferSize, 4096), alignment: 64)
    }

    deinit { buffer.deallocate() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= buffer.count {
            try flushBuffer()
            try writeAll(bytes)
            return
        }
        if used + bytes.count > buffer.count { try flushBuffer() }
        UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + bytes.count)]).copyMemory(from: bytes)
        used += bytes.count
    }

    public func finish() throws { try flushBuffer() }

    private func flushBuffer() throws {
        if used > 0 {
            try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<used]))
            used = 0
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIWriterError.sys("cannot write", path: path)
            }
            offset += n
        }
    }
}
