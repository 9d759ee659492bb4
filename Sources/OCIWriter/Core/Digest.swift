/// A content digest: `sha256:` followed by exactly 64 lowercase hex digits.
///
/// Validation happens at construction (including decoding), so a `Digest` is always safe to use as a
/// file-name component (`blobs/sha256/<hex>`).
public struct Digest: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public static let algorithm = "sha256"

    /// The 64 lowercase hex digits.
    public let hex: String

    public init(_ string: String) throws {
        guard string.hasPrefix("sha256:") else {
            let alg = string.split(separator: ":", maxSplits: 1).first.map(String.init) ?? string
            if string.contains(":") {
                throw OCIWriterError(
                    .invalidDigest,
                    "unsupported digest algorithm '\(alg)' in '\(Digest.clip(string))': only sha256 is supported")
            }
            throw OCIWriterError(
                .invalidDigest, "invalid digest '\(Digest.clip(string))': expected sha256:<64 lowercase hex digits>")
        }
        let hex = string.dropFirst(7)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw OCIWriterError(
                .invalidDigest, "invalid digest '\(Digest.clip(string))': expected sha256:<64 lowercase hex digits>")
        }
        self.hex = String(hex)
    }

    /// From raw 32 hash bytes.
    public init(sha256Bytes bytes: some Sequence<UInt8>) {
        let table: [Character] = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(64)
        for b in bytes {
            s.append(table[Int(b >> 4)])
            s.append(table[Int(b & 0xF)])
        }
        precondition(s.utf8.count == 64, "sha256 digest must be 32 bytes")
        self.hex = s
    }

    /// The sha256 of `bytes`.
    public static func of(_ bytes: some Collection<UInt8>) -> Digest {
        var h = SHA256Hasher()
        h.update(bytes)
        return h.finalize()
    }

    public var string: String { "sha256:" + hex }
    public var description: String { string }

    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        do {
            try self.init(try c.decode(String.self))
        } catch let e as OCIWriterError {
            // As a decoding error, so the message names the field (e.g. `layers[0].digest`).
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: e.message, underlyingError: e))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(string)
    }

    private static func clip(_ s: String) -> String {
        s.count > 80 ? String(s.prefix(80)) + "…" : s
    }
}
