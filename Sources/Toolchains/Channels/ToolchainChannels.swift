import OCIWriter

/// Lists releases from each tool's upstream channel (or its configured mirror). Knows nothing about version
/// constraints: callers pick a release (the Planner's matcher does) and hand it to `ToolchainInstaller`.
public struct ToolchainChannels: Sendable {
    public let settings: ChannelSettings
    let fetcher: IndexFetcher

    /// `indexCache`: reuse index documents fetched less than `maxAge` seconds ago (nil: always fetch).
    public init(
        settings: ChannelSettings = ChannelSettings(), transport: any HTTPTransport = CurlTransport(),
        indexCache: IndexCachePolicy? = nil
    ) {
        self.settings = settings
        self.fetcher = IndexFetcher(transport: transport, cache: indexCache)
    }

    /// Every release the channel lists for `platform`, in the channel's own order, with at least one archive for
    /// the platform. Rust lists only the current `stable` (its dist server has no version index: ask for a
    /// version with `release(_:version:platform:)`); Java lists the newest GA build of each feature version.
    /// `flavor: .runtime` lists the JRE / ASP.NET Core runtime builds (java, dotnet only; `unsupportedFlavor` else).
    public func listReleases(
        _ tool: ToolKind, platform: Platform,
        flavor: ToolchainFlavor = .full
    ) async throws(ToolchainError) -> [ChannelRelease] {
        let s = settings
        if flavor == .runtime {
            guard tool.hasRuntimeFlavor else {
                throw ToolchainError(
                    .unsupportedFlavor,
                    "\(tool.rawValue) publishes no separate runtime build; install the full toolchain")
            }
            return tool == .java
                ? try await javaReleases(platform: platform, flavor: flavor)
                : try await dotnetReleases(platform: platform, flavor: flavor)
        }
        switch tool {
        case .node:
            return try NodeChannel.parse(
                try await fetcher.bytes(NodeChannel.indexURL(s), .node), platform: platform, settings: s)
        case .go:
            return try GoChannel.parse(
                try await fetcher.bytes(GoChannel.indexURL(s), .go), platform: platform, settings: s)
        case .zig:
            return try ZigChannel.parse(
                try await fetcher.bytes(ZigChannel.indexURL(s), .zig), platform: platform, settings: s)
        case .deno:
            return try DenoChannel.parse(
                try await fetcher.bytes(DenoChannel.indexURL(s), .denoIndex), platform: platform,
                settings: s)
        case .bun:
            return try BunChannel.parse(
                try await fetcher.bytes(GitHubRelease.listURL(s, .bun), .bun), platform: platform,
                settings: s)
        case .python:
            return try PythonChannel.parse(
                try await fetcher.bytes(GitHubRelease.listURL(s, .python), .python),
                platform: platform, settings: s)
        case .ruby:
            return try RubyChannel.parse(
                try await fetcher.bytes(GitHubRelease.listURL(s, .ruby), .ruby),
                platform: platform, settings: s)
        case .rust:
            return [try await rustRelease("stable", platform: platform)]
        case .java:
            return try await javaReleases(platform: platform, flavor: .full)
        case .dotnet:
            return try await dotnetReleases(platform: platform, flavor: .full)
        case .gleam:
            return try GleamChannel.parse(
                try await fetcher.bytes(GitHubRelease.listURL(s, .gleam), .gleam), platform: platform, settings: s)
        case .sbt:
            return try SbtChannel.parse(
                try await fetcher.bytes(GitHubRelease.listURL(s, .sbt), .sbt), platform: platform, settings: s)
        case .dart:
            return try await dartReleases(platform: platform)
        case .swift:
            return try SwiftChannel.parse(
                try await fetcher.bytes(SwiftChannel.indexURL(s), .swift), platform: platform, settings: s)
        }
    }

    /// The release whose published version or version number is exactly `version` (`v24.1.0` or `24.1.0`).
    /// Rust fetches `channel-rust-<version>.toml` directly (also `stable`, `beta`, `nightly`, `nightly-YYYY-MM-DD`).
    public func release(
        _ tool: ToolKind, version: String, platform: Platform,
        flavor: ToolchainFlavor = .full
    ) async throws(ToolchainError) -> ChannelRelease {
        if tool == .rust && flavor == .full {
            guard RustChannel.isValidChannel(version) else {
                throw ToolchainError(
                    .unknownVersion, "'\(version)' is not a Rust version or channel name", endpoint: .rust)
            }
            do {
                return try await rustRelease(version, platform: platform)
            } catch let e where e.code == .httpStatus {
                throw ToolchainError(
                    .unknownVersion, "the Rust channel has no manifest for '\(version)'", url: e.url,
                    endpoint: .rust, cause: e)
            }
        }
        let all = try await listReleases(tool, platform: platform, flavor: flavor)
        if let r = all.first(where: { $0.version == version || $0.versionNumber == version }) { return r }
        throw ToolchainError(
            .unknownVersion, "the \(tool.rawValue) channel lists no release '\(version)' for \(platform.rawValue)",
            url: settings.url(tool.indexEndpoint, ""), endpoint: tool.indexEndpoint)
    }

    private func rustRelease(_ channel: String, platform: Platform) async throws(ToolchainError) -> ChannelRelease {
        let data = try await fetcher.bytes(RustChannel.manifestURL(settings, channel: channel), .rust)
        return try RustChannel.parse(data, channel: channel, platform: platform, settings: settings)
    }

    private func javaReleases(platform: Platform, flavor: ToolchainFlavor) async throws(ToolchainError)
        -> [ChannelRelease]
    {
        let available = try await fetcher.json(
            TemurinChannel.Available.self, TemurinChannel.availableURL(settings), .java)
        var out: [ChannelRelease] = []
        for feature in available.available_releases.sorted(by: >) {
            let url = TemurinChannel.assetsURL(settings, feature: feature, platform: platform, flavor: flavor)
            let data: [UInt8]
            do {
                data = try await fetcher.bytes(url, .java)
            } catch let e where e.code == .httpStatus {
                continue  // a feature version without a GA build for this platform (the API answers 404)
            }
            out += try TemurinChannel.parseAssets(
                data, feature: feature,
                lts: available.available_lts_releases.contains(feature),
                platform: platform, flavor: flavor, settings: settings)
        }
        return out
    }

    /// Every page of the Dart archive's stable listing (bounded by `DartChannel.maxPages`).
    private func dartReleases(platform: Platform) async throws(ToolchainError) -> [ChannelRelease] {
        var out: [ChannelRelease] = []
        var token: String? = nil
        for _ in 0..<DartChannel.maxPages {
            let url = DartChannel.indexURL(settings, pageToken: token)
            let page = try DartChannel.parse(
                try await fetcher.bytes(url, .dart), url: url, platform: platform, settings: settings)
            out += page.releases
            guard let next = page.next else { return out }
            token = next
        }
        throw ToolchainError(
            .invalidIndex, "the dart listing has more than \(DartChannel.maxPages) pages",
            url: DartChannel.indexURL(settings), endpoint: .dart)
    }

    private func dotnetReleases(platform: Platform, flavor: ToolchainFlavor) async throws(ToolchainError)
        -> [ChannelRelease]
    {
        let channels = try DotnetChannel.parseIndex(
            try await fetcher.bytes(DotnetChannel.indexURL(settings), .dotnet),
            settings: settings)
        var out: [ChannelRelease] = []
        for c in channels {
            let url = settings.rebase(c.releasesJSON, .dotnet)
            out += try DotnetChannel.parseChannel(
                try await fetcher.bytes(url, .dotnet), channel: c, url: url,
                platform: platform, flavor: flavor, settings: settings)
        }
        return out
    }
}
