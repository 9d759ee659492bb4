import CCrypto
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Hashes a whole file with SHA-256 or SHA-512 (the system OpenSSL), reading it in 1 MiB pieces.
enum FileHashing {
    static func hash(_ path: String, _ algorithm: ChecksumAlgorithm) throws(ToolchainError) -> Checksum {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ToolchainError(.io, "cannot open for hashing", path: path, cause: Errno(errno)) }
        defer { close(fd) }
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, algorithm == .sha256 ? EVP_sha256() : EVP_sha512(), nil)
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ToolchainError(.io, "cannot read for hashing", path: path, cause: Errno(errno)) }
            if n == 0 { break }
            buf.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, n) }
        }
        var out = [UInt8](repeating: 0, count: 64)
        var len: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &len) }
        let hex = out.prefix(Int(len)).map { String($0, radix: 16).leftPadded(2) }.joined()
        return Checksum(algorithm, hex: hex)!
    }

    static func digest(_ path: String) throws(ToolchainError) -> Digest {
        let c = try hash(path, .sha256)
        return try! Digest("sha256:" + c.hex)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
