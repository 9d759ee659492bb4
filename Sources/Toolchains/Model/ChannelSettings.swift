import Foundation

/// One configurable base URL of a release channel. The raw value is the setting's key.
public enum ChannelEndpoint: String, CaseIterable, Codable, Sendable, Comparable {
    /// Node dist tree: `index.json`, `v<V>/SHASUMS256.txt`, `v<V>/node-v<V>-linux-x64.tar.xz`.
    case node
    /// Go downloads: `?mode=json&include=all` and `<filename>`.
    case go
    /// Zig: `index.json` (tarball URLs under the default base are rebased onto this one).
    case zig
    /// Rust dist server: `dist/channel-rust-<stable|beta|nightly|X.Y.Z>.toml` (component URLs rebased).
    case rust
    /// Adoptium (Temurin) API v3: `v3/info/available_releases`, `v3/assets/latest/<N>/hotspot`.
    case java
    /// .NET builds: `dotnet/release-metadata/releases-index.json`, `.../<channel>/releases.json` (URLs rebased).
    case dotnet
    /// Deno version list: `versions.json` (`{"cli": ["v2.1.0", …]}`).
    case denoIndex = "deno-index"
    /// Deno downloads: `release/v<V>/deno-<triple>.zip` and `<zip>.sha256sum`.
    case deno
    /// Bun releases, GitHub releases API shape: `releases?per_page=100`, assets with `SHASUMS256.txt`.
    case bun
    /// python-build-standalone releases, GitHub releases API shape, assets with `SHA256SUMS`.
    case python
    /// Relocatable Ruby builds (jdx/ruby), GitHub releases API shape; sha256 from each asset's `digest` field.
    case ruby
    /// Gleam releases, GitHub releases API shape: asset `gleam-v<V>-<arch>-unknown-linux-musl.tar.gz` and its
    /// `<asset>.sha256` next to it.
    case gleam
    /// The Dart archive bucket (Google Cloud Storage): the JSON object listing
    /// `storage/v1/b/dart-archive/o?prefix=channels/stable/release/&delimiter=/` and the downloads
    /// `dart-archive/channels/stable/release/<V>/sdk/dartsdk-linux-<x64|arm64>-release.zip` (+ `.sha256sum`).
    case dart
    /// sbt releases, GitHub releases API shape: asset `sbt-<V>.tgz` and `sbt-<V>.tgz.sha256`.
    case sbt
    /// swift.org: the install API `api/v1/install/releases.json` (`[{name, tag, date, platforms: [{name, platform,
    /// archs, dir}]}]`); downloads under `download.swift.org` (served by a mirror under `<mirror>/download/…`):
    /// `swift-<V>-release/<dir>/swift-<V>-RELEASE/swift-<V>-RELEASE-<dir>.tar.gz` and its detached `.sig`.
    case swift

    public static func < (a: ChannelEndpoint, b: ChannelEndpoint) -> Bool { a.rawValue < b.rawValue }

    /// The upstream base URL used when nothing overrides it.
    public var defaultBase: URL {
        let s: String =
            switch self {
            case .node: "https://nodejs.org/dist"
            case .go: "https://go.dev/dl"
            case .zig: "https://ziglang.org/download"
            case .rust: "https://static.rust-lang.org"
            case .java: "https://api.adoptium.net"
            case .dotnet: "https://builds.dotnet.microsoft.com"
            case .denoIndex: "https://deno.com"
            case .deno: "https://dl.deno.land"
            case .bun: "https://api.github.com/repos/oven-sh/bun"
            case .python: "https://api.github.com/repos/astral-sh/python-build-standalone"
            case .ruby: "https://api.github.com/repos/jdx/ruby"
            case .gleam: "https://api.github.com/repos/gleam-lang/gleam"
            case .dart: "https://storage.googleapis.com"
            case .sbt: "https://api.github.com/repos/sbt/sbt"
            case .swift: "https://www.swift.org"
            }
        return URL(string: s)!
    }

    /// Upstream download locations outside `defaultBase` that the index's absolute URLs point at, each with the
    /// path a mirror of this endpoint serves them under: GitHub release assets of bun, python, ruby, gleam and sbt
    /// (`https://github.com/<owner>/<repo>/releases/download/<tag>/<asset>` → `<mirror>/releases/download/<tag>/
    /// <asset>`), Temurin's binaries (`https://github.com/adoptium/<repo>/…` → `<mirror>/adoptium/<repo>/…`), Zig's
    /// dev builds (`<mirror>/builds/…`).
    public var downloadBases: [(upstream: String, mirrorPath: String)] {
        switch self {
        case .bun: [("https://github.com/oven-sh/bun", "")]
        case .python: [("https://github.com/astral-sh/python-build-standalone", "")]
        case .ruby: [("https://github.com/jdx/ruby", "")]
        case .gleam: [("https://github.com/gleam-lang/gleam", "")]
        case .sbt: [("https://github.com/sbt/sbt", "")]
        case .java: [("https://github.com/adoptium", "/adoptium")]
        case .zig: [("https://ziglang.org/builds", "/builds")]
        case .swift: [("https://download.swift.org", "/download")]
        case .node, .go, .rust, .dotnet, .denoIndex, .deno, .dart: []
        }
    }

    /// The environment variable that overrides this base: `OCIFORGE_TOOLCHAINS_DENO_INDEX_URL`.
    public var environmentVariable: String {
        "OCIFORGE_TOOLCHAINS_" + rawValue.uppercased().replacingOccurrences(of: "-", with: "_") + "_URL"
    }

    /// How a user changes this base, for error messages: the config key and the variable.
    public var settingDescription: String {
        "[toolchains.mirrors] \(rawValue) in ociforge.toml or $\(environmentVariable)"
    }
}

/// The base URL of every channel endpoint; each can be pointed at a mirror (an air-gapped CI's own copy laid out
/// like the upstream site). Defaults: `ChannelEndpoint.defaultBase`.
public struct ChannelSettings: Hashable, Sendable {
    private var overrides: [ChannelEndpoint: URL]

    public init(overrides: [ChannelEndpoint: URL] = [:]) {
        self.overrides = overrides
    }

    /// Overrides read from `OCIFORGE_TOOLCHAINS_<KEY>_URL` variables (empty values ignored).
    /// A value that is not an absolute http(s) URL fails naming the variable.
    public init(environment: [String: String]) throws(ToolchainError) {
        var o: [ChannelEndpoint: URL] = [:]
        for e in ChannelEndpoint.allCases {
            guard let v = environment[e.environmentVariable], !v.isEmpty else { continue }
            o[e] = try Self.parseBase(v, endpoint: e)
        }
        overrides = o
    }

    /// Overrides from a config table keyed by endpoint key (`[toolchains.mirrors] node = "…"`), then from the
    /// environment (which wins). An unknown key or a malformed URL fails naming the key.
    public init(mirrors: [String: String], environment: [String: String]) throws(ToolchainError) {
        var o: [ChannelEndpoint: URL] = [:]
        for (key, value) in mirrors.sorted(by: { $0.key < $1.key }) {
            guard let e = ChannelEndpoint(rawValue: key) else {
                let known = ChannelEndpoint.allCases.map(\.rawValue).joined(separator: ", ")
                throw ToolchainError(.invalidSetting, "[toolchains.mirrors] \(key): unknown channel (known: \(known))")
            }
            o[e] = try Self.parseBase(value, endpoint: e)
        }
        let env = try ChannelSettings(environment: environment)
        for (e, u) in env.overrides { o[e] = u }
        overrides = o
    }

    /// Validates a base URL given for `endpoint` (absolute http or https; a trailing `/` is dropped).
    public static func parseBase(_ string: String, endpoint: ChannelEndpoint) throws(ToolchainError) -> URL {
        var s = string
        while s.hasSuffix("/") { s.removeLast() }
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
            u.host != nil
        else {
            throw ToolchainError(.invalidSetting, "'\(string)' is not an absolute http(s) URL", endpoint: endpoint)
        }
        return u
    }

    public subscript(endpoint: ChannelEndpoint) -> URL {
        get { overrides[endpoint] ?? endpoint.defaultBase }
        set { overrides[endpoint] = newValue }
    }

    /// `base + "/" + path` for `endpoint`.
    public func url(_ endpoint: ChannelEndpoint, _ path: String) -> String {
        var base = self[endpoint].absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return path.isEmpty ? base : base + "/" + path
    }

    /// An absolute URL found in an index: when it lies under the endpoint's default base or one of its
    /// `downloadBases` and the base is overridden, the same path under the override (so a mirror's verbatim copy
    /// of an upstream index serves the downloads too: the whole channel comes from the mirror).
    public func rebase(_ url: String, _ endpoint: ChannelEndpoint) -> String {
        guard let o = overrides[endpoint] else { return url }
        let rules = [(endpoint.defaultBase.absoluteString, "")] + endpoint.downloadBases
        for (upstream, path) in rules where url.hasPrefix(upstream + "/") {
            return o.absoluteString + path + url.dropFirst(upstream.count)
        }
        return url
    }
}
