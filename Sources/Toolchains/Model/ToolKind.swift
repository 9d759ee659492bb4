/// A toolchain ociforge can install from its upstream release channel.
///
/// Only tools whose published index, checksum and relocatable archive format this module implements are cases.
/// gleam runs on Erlang/OTP, which publishes no relocatable Linux build: the plan takes erlang from Debian. sbt runs
/// on a JDK (Temurin or Debian's). Not supported (see docs/toolchains.md, "Unsupported tools"):
/// - erlang: no official relocatable Linux build of Erlang/OTP.
/// swift.org publishes no checksum for its Linux tarballs, only a detached OpenPGP signature: swift archives are
/// verified with `gpgv` against a keyring the user configures (`ToolchainInstaller.keyrings`).
/// - php: no upstream relocatable build (static-php-cli is a third-party build system).
public enum ToolKind: String, CaseIterable, Codable, Sendable, Comparable {
    case node
    case bun
    case deno
    case go
    case python
    case ruby
    case rust
    case java
    case dotnet
    case zig
    case gleam
    case dart
    case sbt
    case swift

    public static func < (a: ToolKind, b: ToolKind) -> Bool { a.rawValue < b.rawValue }

    /// Every endpoint of this tool's channel (its index and its downloads): what `[toolchains.<tool>] mirror`
    /// points at one mirror. Only Deno lists and serves from two sites.
    public var endpoints: [ChannelEndpoint] { self == .deno ? [.denoIndex, .deno] : [indexEndpoint] }

    /// The channel endpoint that lists this tool's releases (its base URL setting).
    public var indexEndpoint: ChannelEndpoint {
        switch self {
        case .node: .node
        case .bun: .bun
        case .deno: .denoIndex
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
