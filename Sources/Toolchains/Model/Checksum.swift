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
              lower.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        self.algorithm = algorithm
        self.hex = lower
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }
}

/// Where an artifact's expected checksum comes from: the index itself, or a checksum file the channel publishes
/// next to the artifact (read when the artifact is fetched, so listing stays one request).
public enum ChecksumSource: Hashable, Codable, Sendable {
    /// Given by the index (Go, Zig, Rust, Temurin, .NET).
    case inline(Checksum)
    /// A `sha256sum`-style file (`<hex>  <name>` lines, or a lone hex digest) at `url`; the line for `fileName`
    /// is taken (a file holding a single digest applies to the artifact whatever its name).
    case file(url: String, fileName: String, algorithm: ChecksumAlgorithm)
}
