/// .NET SDK: `<dotnet>/dotnet/release-metadata/releases-index.json` lists channels (`channel-version`,
/// `release-type` lts/sts, `support-phase`, `releases.json` URL); each channel's `releases.json` lists
/// `releases[]` with `sdks[]` (or `sdk`) `{version, files[{name, rid, url, hash}]}`, `hash` = SHA-512 hex.
/// One release per SDK version; URLs under builds.dotnet.microsoft.com are rebased onto a mirror.
enum DotnetChannel {
    struct Index: Decodable {
        var releasesIndex: [Channel]
        enum CodingKeys: String, CodingKey { case releasesIndex = "releases-index" }
    }
    struct Channel: Decodable {
        var channelVersion: String
        var releaseType: String?
        var supportPhase: String?
        var releasesJSON: String
        enum CodingKeys: String, CodingKey {
            case channelVersion = "channel-version", releaseType = "release-type", supportPhase = "support-phase"
            case releasesJSON = "releases.json"
        }
    }
    struct Releases: Decodable {
        var releases: [Release]
    }
    struct Release: Decodable {
        var releaseDate: String?
        var sdk: SDK?
        var sdks: [SDK]?
        var aspnetcoreRuntime: SDK?
        enum CodingKeys: String, CodingKey {
            case releaseDate = "release-date", sdk, sdks, aspnetcoreRuntime = "aspnetcore-runtime"
        }

        /// The SDKs (`full`) or the ASP.NET Core runtime (`runtime`) this release publishes.
        func builds(_ flavor: ToolchainFlavor) -> [SDK] {
            flavor == .runtime ? (aspnetcoreRuntime.map { [$0] } ?? []) : (sdks ?? (sdk.map { [$0] } ?? []))
        }
    }
    struct SDK: Decodable {
        var version: String
        var files: [File]
    }
    struct File: Decodable {
        var name: String
        var rid: String?
        var url: String
        var hash: String
    }

    static func indexURL(_ s: ChannelSettings) -> String {
        s.url(.dotnet, "dotnet/release-metadata/releases-index.json")
    }

    static func parseIndex(_ data: [UInt8], settings s: ChannelSettings) throws(ToolchainError) -> [Channel] {
        try IndexFetcher.decode(Index.self, data, url: indexURL(s), endpoint: .dotnet).releasesIndex
    }

    static func parseChannel(
        _ data: [UInt8], channel: Channel, url: String, platform: Platform, flavor: ToolchainFlavor,
        settings s: ChannelSettings
    ) throws(ToolchainError) -> [ChannelRelease] {
        let prefix = flavor == .runtime ? "aspnetcore-runtime" : "dotnet-sdk"
        let doc = try IndexFetcher.decode(Releases.self, data, url: url, endpoint: .dotnet)
        var out: [ChannelRelease] = []
        var seen = Set<String>()
        for r in doc.releases {
            for sdk in r.builds(flavor) where seen.insert(sdk.version).inserted {
                guard
                    let f = sdk.files.first(where: {
                        $0.rid == platform.dotnetRID && $0.name.hasPrefix(prefix) && $0.name.hasSuffix(".tar.gz")
                    })
                else { continue }
                guard let sum = Checksum(.sha512, hex: f.hash) else {
                    throw ToolchainError(
                        .invalidIndex, "\(prefix) \(sdk.version) \(f.name): hash is not 128 hex digits (SHA-512)",
                        url: url, endpoint: .dotnet)
                }
                let artifact = ToolchainArtifact(
                    component: prefix, url: s.rebase(f.url, .dotnet),
                    checksum: .inline(sum), size: nil, format: .tarGzip)
                let pre =
                    sdk.version.contains("-") || channel.supportPhase == "preview" || channel.supportPhase == "go-live"
                out.append(
                    ChannelRelease(
                        tool: .dotnet, platform: platform, version: sdk.version,
                        versionNumber: sdk.version, ltsCodename: nil,
                        isLTS: channel.releaseType == "lts", isPrerelease: pre, date: r.releaseDate,
                        artifacts: [artifact], flavor: flavor))
            }
        }
        return out
    }
}
