import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Cache keys: SHA-256 over length-prefixed parts (so `["ab", "c"]` and `["a", "bc"]` differ), and the content
/// digests of files that take part in them.
enum CacheKey {
    static func of(_ parts: [String]) -> String {
        var h = SHA256Hasher()
        for p in parts {
            let b = Array(p.utf8)
            var n = UInt64(b.count).littleEndian
            withUnsafeBytes(of: &n) { h.update($0) }
            b.withUnsafeBytes { h.update($0) }
        }
        return h.finalize().hex
    }

    /// What determines a layer's bytes besides its content (compressor, level, block size, library): part of
    /// every key of a step whose layer the engine writes, so another compression setting never reuses a layer.
    static func layerFormat(_ options: LayerWriteOptions) -> String {
        "layer-format " + options.compressorDescription
    }

    /// The SHA-256 of a file's bytes (the one file hash of the engine: cache keys, base tarballs).
    static func fileDigest(_ path: String) throws(BuildEngineError) -> Digest {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BuildEngineError(.staging, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var h = SHA256Hasher()
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildEngineError(.staging, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return h.finalize()
    }
}
