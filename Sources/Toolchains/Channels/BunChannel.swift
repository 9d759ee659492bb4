/// Bun: GitHub releases of oven-sh/bun, tags `bun-v<V>`; the archive is the `bun-linux-x64.zip` /
/// `bun-linux-aarch64.zip` asset, its sha256 in the release's `SHASUMS256.txt` asset.
enum BunChannel {
    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = GitHubRelease.listURL(s, .bun)
        let releases = try IndexFetcher.decode([GitHubRelease].self, data, url: url, endpoint: .bun)
        return releases.compactMap { r in
            guard r.draft != true, r.tag_name.hasPrefix("bun-v"), let a = r.asset(platform.bunAsset + ".zip"),
                let sums = r.asset("SHASUMS256.txt")
            else { return nil }
            let number = String(r.tag_name.dropFirst(5))
            let artifact = ToolchainArtifact(
                component: "bun", url: s.rebase(a.browser_download_url, .bun),
                checksum: .file(url: s.rebase(sums.browser_download_url, .bun), fileName: a.name, algorithm: .sha256),
                size: a.size,
                format: .zip)
            return ChannelRelease(
                tool: .bun, platform: platform, version: r.tag_name, versionNumber: number,
                isPrerelease: r.prerelease == true || number.contains("-"),
                date: r.published_at.map { String($0.prefix(10)) }, artifacts: [artifact])
        }
    }
}
