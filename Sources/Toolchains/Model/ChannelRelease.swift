/// One downloadable archive of a release (most releases have one; Rust has rustc, cargo and rust-std).
public struct ToolchainArtifact: Hashable, Codable, Sendable {
    /// Component name (`rustc`, `cargo`, `rust-std`), or the tool's name for single-archive releases.
    public var component: String
    /// The archive URL as published (or rebased onto a configured mirror).
    public var url: String
    public var checksum: ChecksumSource
    /// Size in bytes when the channel publishes it.
    public var size: Int64?
    public var format: ArchiveFormat

    public init(component: String, url: String, checksum: ChecksumSource, size: Int64?, format: ArchiveFormat) {
        self.component = component
        self.url = url
        self.checksum = checksum
        self.size = size
        self.format = format
    }
}

/// Archive container formats the installer unpacks.
public enum ArchiveFormat: String, Hashable, Codable, Sendable {
    case tarGzip = "tar.gz"
    case tarXz = "tar.xz"
    case zip

    /// From a file name's suffix; nil for anything else.
    public init?(fileName: String) {
        if fileName.hasSuffix(".tar.gz") || fileName.hasSuffix(".tgz") {
            self = .tarGzip
        } else if fileName.hasSuffix(".tar.xz") {
            self = .tarXz
        } else if fileName.hasSuffix(".zip") {
            self = .zip
        } else {
            return nil
        }
    }
}

/// A release as one channel lists it for one platform.
public struct ChannelRelease: Hashable, Codable, Sendable {
    public var tool: ToolKind
    public var platform: Platform
    /// `runtime` for a JRE / .NET runtime release, else `full`.
    public var flavor: ToolchainFlavor
    /// The version exactly as the channel publishes it (`v24.1.0`, `go1.23.4`, `jdk-21.0.5+11`, `0.14.1`).
    public var version: String
    /// The version without the channel's decoration (`24.1.0`, `1.23.4`, `21.0.5+11`): what constraints match.
    public var versionNumber: String
    /// LTS codename when the channel names one (Node `Iron`); nil otherwise.
    public var ltsCodename: String?
    /// The channel marks this release long-term support (Node `lts`, Temurin LTS features, .NET `lts`).
    public var isLTS: Bool
    /// A prerelease / unstable build (Go `stable: false`, Zig `master`, .NET previews, Rust beta/nightly).
    public var isPrerelease: Bool
    /// Release date `YYYY-MM-DD` when published.
    public var date: String?
    public var artifacts: [ToolchainArtifact]

    public init(
        tool: ToolKind, platform: Platform, version: String, versionNumber: String, ltsCodename: String? = nil,
        isLTS: Bool = false, isPrerelease: Bool = false, date: String? = nil, artifacts: [ToolchainArtifact],
        flavor: ToolchainFlavor = .full
    ) {
        self.tool = tool
        self.platform = platform
        self.flavor = flavor
        self.version = version
        self.versionNumber = versionNumber
        self.ltsCodename = ltsCodename
        self.isLTS = isLTS
        self.isPrerelease = isPrerelease
        self.date = date
        self.artifacts = artifacts
    }
}
