/// A checksum algorithm a channel publishes.
public enum ChecksumAlgorithm: String, Codable, Sendable {
    case sha256
    case sha512

    /// Hex digits of a digest of this algorithm.
    public var hexLength: Int { self == .sha256 ? 64 : 128 }
}

/// A published checksum: algorithm and lowercase hex digest.
public struct Checksum: Hashable, Codable, Sendable, CustomStringConvertible {
    public var algorithm: ChecksumAlgorithm
    public var hex: String

    /// Validates the length and hex digits (upper case is lowered); nil when malformed.
    public init?(_ algorithm: ChecksumAlgorithm, hex: String) {
        let lower = hex.lowercased()
        guard lower.utf8.count == algorithm.hexLength,
            lower.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        self.algorithm = algorithm
        self.hex = lower
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    private enum CodingKeys: String, CodingKey { case algorithm, hex }

    /// Decoding validates like `init?(_:hex:)` (a plan file is input too).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let algorithm = try c.decode(ChecksumAlgorithm.self, forKey: .algorithm)
        let hex = try c.decode(String.self, forKey: .hex)
        guard let v = Checksum(algorithm, hex: hex) else {
            throw DecodingError.dataCorruptedError(
                forKey: .hex, in: c,
                debugDescription: "not \(algorithm.hexLength) hex digits for \(algorithm.rawValue)")
        }
        self = v
    }
}

/// Where an artifact's expected checksum comes from: the index itself, or a checksum file the channel publishes
/// next to the artifact (read when the artifact is fetched, so listing stays one request).
public enum ChecksumSource: Hashable, Codable, Sendable {
    /// Given by the index (Go, Zig, Rust, Temurin, .NET).
    case inline(Checksum)
    /// A `sha256sum`-style file (`<hex>  <name>` lines, or a lone hex digest) at `url`; the line for `fileName`
    /// is taken (a file holding a single digest applies to the artifact whatever its name).
    case file(url: String, fileName: String, algorithm: ChecksumAlgorithm)
    /// No checksum is published, only a detached OpenPGP signature at `url` (swift.org): the download is verified
    /// with `gpgv` against the configured keyring before it is cached.
    case openPGPSignature(url: String)
}
