/// One toolchain of the resolved plan: where it comes from (a Debian package of the base suite, or an upstream
/// release channel the engine downloads, verifies and installs), what was asked for and where.
public struct Toolchain: Codable, Equatable, Sendable {
    public enum Source: String, Codable, Sendable { case debian, upstream }

    /// The tool (`node`, `python`, `go`, `rust`, `ruby`, `java`, `dotnet`, `bun`, `deno`, `zig`, ...).
    public var name: String
    public var source: Source
    /// What was asked for and where; nil when nothing asked (the suite's default, or the channel's default).
    public var request: ToolchainRequest?
    /// debian: the upstream version the suite's package carries. upstream: the exact version when the request
    /// names one or the plan is pinned, else nil (the engine resolves it from the channel's index).
    public var version: String?
    /// debian: the build-stage packages (`pkg=version` in a frozen plan; `pkg/suite-backports` when they come from
    /// backports). upstream: Debian packages the build stage needs beside it (compilers for native gems), often empty.
    public var packages: [String]
    public var debian: DebianToolchainSource?
    public var upstream: UpstreamRequirement?

    public init(
        name: String, source: Source, request: ToolchainRequest?, version: String?, packages: [String],
        debian: DebianToolchainSource? = nil, upstream: UpstreamRequirement? = nil
    ) {
        self.name = name
        self.source = source
        self.request = request
        self.version = version
        self.packages = packages
        self.debian = debian
        self.upstream = upstream
    }

    /// Debian packages the runtime stage needs for this toolchain (empty for upstream ones: the engine installs
    /// the toolchain layer instead, see `UpstreamRequirement.runtime`).
    public var runtimePackages: [String] { debian?.runtimePackages ?? [] }
}

/// A version request and its origin: `{constraint: ">=20", from: "package.json", line: 5, key: "engines.node"}`,
/// `{constraint: "22", from: "OCIFORGE_NODE_VERSION"}`.
public struct ToolchainRequest: Codable, Equatable, Sendable, CustomStringConvertible {
    public var constraint: String
    /// A file relative to the app directory, or the setting's name (`OCIFORGE_NODE_VERSION`).
    public var from: String
    public var line: Int?
    /// The key inside the file (`engines.node`, `tools.node`, `toolchains.node.version`).
    public var key: String?

    public init(constraint: String, from: String, line: Int? = nil, key: String? = nil) {
        self.constraint = constraint
        self.from = from
        self.line = line
        self.key = key
    }

    /// `package.json:5 engines.node`.
    public var description: String { from + (line.map { ":\($0)" } ?? "") + (key.map { " " + $0 } ?? "") }
}

public struct DebianToolchainSource: Codable, Equatable, Sendable {
    /// The archive the packages come from: the base suite or its backports.
    public var suite: String
    public var runtimePackages: [String]
    /// PATH entries (e.g. /usr/lib/go-1.24/bin).
    public var paths: [String]
    public init(suite: String, runtimePackages: [String], paths: [String]) {
        self.suite = suite
        self.runtimePackages = runtimePackages
        self.paths = paths
    }
}

/// What the engine resolves against an upstream channel's index into a `ToolchainPin`.
public struct UpstreamRequirement: Codable, Equatable, Sendable {
    /// Which part of the toolchain the runtime stage needs.
    public enum RuntimePart: String, Codable, Sendable {
        /// Nothing: the build output is self-contained (go, rust, zig, dart exe, swift --static-swift-stdlib).
        case none
        /// The whole toolchain (node, bun, deno, python, ruby).
        case full
        /// Only its runtime part (a JRE for java, the .NET runtime for dotnet).
        case runtimeOnly
    }

    /// The release channel (`node`, `go`, `python-build-standalone`, `temurin`, `dotnet`, `rust`, `zig`, ...).
    public var channel: String
    /// The request (`>=20 <23`, `lts/iron`, `1.23`, `latest`, `stable`), newest match wins.
    public var constraint: String
    /// Base URL of a mirror of the channel (`[toolchains.<tool>] mirror`, `OCIFORGE_TOOLCHAIN_<TOOL>_MIRROR`);
    /// nil: the channel's own site.
    public var mirror: String?
    /// OpenPGP keyring file verifying a channel that publishes only signatures (`[toolchains.swift] keyring`);
    /// the engine's `--toolchain-keyring` / `OCIFORGE_TOOLCHAINS_<TOOL>_KEYRING` win over it.
    public var keyring: String?
    public var runtime: RuntimePart
    /// Filled by the engine (`freeze`): a frozen plan with a pin never consults an index.
    public var pin: ToolchainPin?
    /// The runtime-only build for the runtime stage (`runtime == .runtimeOnly`: the Temurin JRE, the ASP.NET Core
    /// runtime), filled by the engine like `pin`; nil: the runtime stage gets `pin`'s toolchain.
    public var runtimePin: ToolchainPin?
    /// The same release's pins for the other platforms the plan was frozen for (`freeze --platform a,b`), by
    /// platform; the engine builds each platform with its own pin and reads no index. nil: `pin`'s platform only.
    public var platformPins: [PlatformPin]?

    public init(
        channel: String, constraint: String, mirror: String?, runtime: RuntimePart, pin: ToolchainPin? = nil,
        runtimePin: ToolchainPin? = nil, keyring: String? = nil, platformPins: [PlatformPin]? = nil
    ) {
        self.channel = channel
        self.constraint = constraint
        self.mirror = mirror
        self.keyring = keyring
        self.runtime = runtime
        self.pin = pin
        self.runtimePin = runtimePin
        self.platformPins = platformPins
    }
}

/// A toolchain's pins for one more platform of a multi-platform frozen plan: the release's archives for that
/// platform (and its runtime build's, like `runtimePin`).
public struct PlatformPin: Codable, Equatable, Sendable {
    public var pin: ToolchainPin
    public var runtimePin: ToolchainPin?

    public init(pin: ToolchainPin, runtimePin: ToolchainPin? = nil) {
        self.pin = pin
        self.runtimePin = runtimePin
    }

    public var platform: String { pin.platform }
}

/// One resolved upstream release: exactly what to download and how to verify it.
public struct ToolchainPin: Codable, Equatable, Sendable {
    public var version: String
    /// The (first) archive's URL.
    public var url: String
    /// The (first) archive's digest: `sha256:<64 hex>` (what the engine records: the archive's own sha256), or
    /// `sha512:<128 hex>` as a channel may publish it.
    public var digest: String
    /// `linux/amd64`, `linux/arm64`.
    public var platform: String
    /// Every archive with its size, in install order (Rust: rustc, cargo, rust-std), as the engine records them:
    /// enough to install again without an index. nil in hand-written pins (then `url`/`digest` are the one archive).
    public var artifacts: [PinnedArchive]?

    public init(version: String, url: String, digest: String, platform: String, artifacts: [PinnedArchive]? = nil) {
        self.version = version
        self.url = url
        self.digest = digest
        self.platform = platform
        self.artifacts = artifacts
    }
}

/// One archive of a pinned toolchain.
public struct PinnedArchive: Codable, Equatable, Sendable {
    /// `archive`, or the Rust component (`rustc`, `cargo`, `rust-std-x86_64-unknown-linux-gnu`).
    public var component: String
    public var url: String
    /// `tar.gz`, `tar.xz`, `zip`.
    public var format: String
    /// `sha256:<64 hex>` of the archive.
    public var digest: String
    public var size: Int64

    public init(component: String, url: String, format: String, digest: String, size: Int64) {
        self.component = component
        self.url = url
        self.format = format
        self.digest = digest
        self.size = size
    }
}

/// A package manager installed at the version the project asks for.
public struct PackageManager: Codable, Equatable, Sendable {
    public enum Via: String, Codable, Sendable {
        /// corepack (pnpm, yarn at `packageManager`).
        case corepack
        /// pip into its own venv (poetry, pdm, uv, pipenv).
        case pypi
        /// `gem install` (bundler at `BUNDLED WITH`).
        case rubygems
        /// The suite's Debian package.
        case debian
        /// Shipped with the toolchain (npm with node).
        case bundled
    }
    public var name: String
    /// Exact version or a constraint (`9.1.0`, `>=2,<3`); nil: the source's current one.
    public var version: String?
    public var via: Via
    public var request: ToolchainRequest?
    public init(name: String, version: String?, via: Via, request: ToolchainRequest?) {
        self.name = name
        self.version = version
        self.via = via
        self.request = request
    }
}
