import OCIWriter

/// A resolved toolchain, frozen: enough to install it again without consulting any index. Installing a pin
/// downloads (when not cached) exactly these URLs and accepts only these sha256 digests.
/// Codable with sorted keys gives a deterministic encoding (`JSONEncoder.outputFormatting = .sortedKeys`).
public struct ToolchainPin: Hashable, Codable, Sendable {
    public var tool: ToolKind
    /// The version number (`ChannelRelease.versionNumber`); also the install directory name.
    public var version: String
    public var platform: Platform
    /// One per archive, in install order (Rust: rustc, cargo, rust-std).
    public var artifacts: [PinnedArtifact]

    public init(tool: ToolKind, version: String, platform: Platform, artifacts: [PinnedArtifact]) {
        self.tool = tool
        self.version = version
        self.platform = platform
        self.artifacts = artifacts
    }

    /// The single archive's URL (the first one for multi-archive toolchains).
    public var url: String { artifacts.first?.url ?? "" }
    /// The single archive's digest (the first one for multi-archive toolchains).
    public var digest: Digest? { artifacts.first?.digest }
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
