import OCIWriter

/// An archive in the host cache whose bytes matched the published checksum (or the pin's digest).
public struct VerifiedArchive: Hashable, Sendable {
    public var component: String
    public var url: String
    public var format: ArchiveFormat
    /// sha256 of the archive: its cache key and the digest a pin records.
    public var digest: Digest
    public var size: Int64
    /// `<state>/toolchains/blobs/sha256/<hex>`.
    public var path: String
    /// False when the cache already held it (no request was made).
    public var downloaded: Bool
}

extension ToolKind {
    /// The endpoint whose base URL setting changes this tool's archive URLs.
    public var downloadEndpoint: ChannelEndpoint {
        switch self {
        case .node: .node
        case .bun: .bun
        case .deno: .deno
        case .go: .go
        case .python: .python
        case .ruby: .ruby
        case .rust: .rust
        case .java: .java
        case .dotnet: .dotnet
        case .zig: .zig
        case .gleam: .gleam
        case .dart: .dart
        case .sbt: .sbt
        case .swift: .swift
        }
    }
}
