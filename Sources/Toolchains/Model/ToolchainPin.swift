import Foundation
import OCIWriter

/// A resolved toolchain, frozen: enough to install it again without consulting any index. Installing a pin
/// downloads (when not cached) exactly these URLs and accepts only these sha256 digests.
/// Codable with sorted keys gives a deterministic encoding (`JSONEncoder.outputFormatting = .sortedKeys`).
public struct ToolchainPin: Hashable, Codable, Sendable {
    public var tool: ToolKind
    /// The version number (`ChannelRelease.versionNumber`); also the install directory name.
    public var version: String
    public var platform: Platform
    public var flavor: ToolchainFlavor
    /// One per archive, in install order (Rust: rustc, cargo, rust-std).
    public var artifacts: [PinnedArtifact]

    public init(
        tool: ToolKind, version: String, platform: Platform, artifacts: [PinnedArtifact],
        flavor: ToolchainFlavor = .full
    ) {
        self.tool = tool
        self.version = version
        self.platform = platform
        self.flavor = flavor
        self.artifacts = artifacts
    }

    /// The single archive's URL (the first one for multi-archive toolchains).
    public var url: String { artifacts.first?.url ?? "" }
    /// The single archive's digest (the first one for multi-archive toolchains).
    public var digest: Digest? { artifacts.first?.digest }

    /// The deterministic encoding: JSON with sorted keys.
    public func canonicalJSON() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try! e.encode(self))
    }

    /// A key for reusing the toolchain's layer: the sha256 of tool, flavor, version, platform and the archive digests
    /// (not the URLs: the same bytes from a mirror give the same layer).
    public var layerKey: Digest {
        let parts =
            [tool.rawValue, flavor.rawValue, version, platform.rawValue]
            + artifacts.map { "\($0.component)=\($0.digest.string)" }
        return Digest.of(Array(parts.joined(separator: "\n").utf8))
    }
}

public struct PinnedArtifact: Hashable, Codable, Sendable {
    public var component: String
    public var url: String
    public var format: ArchiveFormat
    /// sha256 of the archive.
    public var digest: Digest
    public var size: Int64

    public init(component: String, url: String, format: ArchiveFormat, digest: Digest, size: Int64) {
        self.component = component
        self.url = url
        self.format = format
        self.digest = digest
        self.size = size
    }
}
