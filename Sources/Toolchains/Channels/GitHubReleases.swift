/// The GitHub releases API shape (`releases?per_page=100`) that Bun and python-build-standalone publish through;
/// a mirror serves the same JSON with its own download URLs.
struct GitHubRelease: Decodable {
    var tag_name: String
    var prerelease: Bool?
    var draft: Bool?
    var published_at: String?
    var assets: [Asset]

    struct Asset: Decodable {
        var name: String
        var browser_download_url: String
        var size: Int64?
        /// `sha256:<hex>`, computed by GitHub at upload (absent on assets uploaded before mid-2025).
        var digest: String?
    }

    /// The first page of releases, newest first: 100 for Bun and Ruby; 10 for python-build-standalone, whose
    /// releases carry about a thousand assets each (a page of 100 would be well over 100 MB of JSON). Its newest
    /// releases hold the newest patch of every supported CPython minor; older patches are not listed.
    static func listURL(_ s: ChannelSettings, _ e: ChannelEndpoint) -> String {
        s.url(e, "releases?per_page=\(e == .python ? 10 : 100)")
    }

    func asset(_ name: String) -> Asset? { assets.first { $0.name == name } }
}

extension GitHubRelease {
    /// Releases that publish one archive per platform under tags `v<V>`, each verified by the `<asset>.sha256` asset
    /// next to it, else by the asset's `digest` field (an asset with neither cannot be verified and is not listed).
    /// `assetName` gives the archive's name from the tag. Gleam and sbt publish this way.
    static func singleAssetReleases(
        _ data: [UInt8], tool: ToolKind, platform: Platform, settings s: ChannelSettings,
        format: ArchiveFormat, assetName: (_ tag: String) -> String
    ) throws(ToolchainError) -> [ChannelRelease] {
        let e = tool.indexEndpoint
        let releases = try IndexFetcher.decode([GitHubRelease].self, data, url: listURL(s, e), endpoint: e)
        return releases.compactMap { r in
            guard r.draft != true, r.tag_name.hasPrefix("v"), let a = r.asset(assetName(r.tag_name)) else {
                return nil
            }
            let checksum: ChecksumSource
            if let sum = r.asset(a.name + ".sha256") {
                checksum = .file(url: s.rebase(sum.browser_download_url, e), fileName: a.name, algorithm: .sha256)
            } else if let d = a.digest, d.hasPrefix("sha256:"), let sum = Checksum(.sha256, hex: String(d.dropFirst(7)))
            {
                checksum = .inline(sum)
            } else {
                return nil
            }
            let number = String(r.tag_name.dropFirst())
            let artifact = ToolchainArtifact(
                component: tool.rawValue, url: s.rebase(a.browser_download_url, e), checksum: checksum, size: a.size,
                format: format)
            return ChannelRelease(
                tool: tool, platform: platform, version: r.tag_name, versionNumber: number,
                isPrerelease: r.prerelease == true || number.contains("-"),
                date: r.published_at.map { String($0.prefix(10)) }, artifacts: [artifact])
        }
    }
}
