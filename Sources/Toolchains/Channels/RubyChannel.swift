/// Ruby: relocatable builds from jdx/ruby GitHub releases (what mise installs by default), tags `<V>` or
/// rebuilds `<V>-<N>`; assets `ruby-<V>.x86_64_linux.tar.gz` / `ruby-<V>.arm64_linux.tar.gz`. The project
/// publishes no checksum file: the expected sha256 is the asset's `digest` field in the releases JSON (GitHub
/// computes it at upload). Assets without a digest are not listed (they cannot be verified); the GitHub artifact
/// attestations are not checked. The first (newest) release listing a version wins over older rebuilds.
enum RubyChannel {
    static func assetSuffix(_ p: Platform) -> String {
        p == .linuxAMD64 ? ".x86_64_linux.tar.gz" : ".arm64_linux.tar.gz"
    }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = GitHubRelease.listURL(s, .ruby)
        let releases = try IndexFetcher.decode([GitHubRelease].self, data, url: url, endpoint: .ruby)
        let suffix = assetSuffix(platform)
        var seen = Set<String>()
        var out: [ChannelRelease] = []
        for r in releases where r.draft != true {
            for a in r.assets where a.name.hasPrefix("ruby-") && a.name.hasSuffix(suffix) {
                let version = String(a.name.dropFirst(5).dropLast(suffix.count))
                guard !version.isEmpty, seen.insert(version).inserted else { continue }
                guard let d = a.digest, d.hasPrefix("sha256:"), let sum = Checksum(.sha256, hex: String(d.dropFirst(7)))
                else {
                    continue
                }
                let artifact = ToolchainArtifact(
                    component: "ruby", url: s.rebase(a.browser_download_url, .ruby), checksum: .inline(sum),
                    size: a.size, format: .tarGzip)
                out.append(
                    ChannelRelease(
                        tool: .ruby, platform: platform, version: r.tag_name, versionNumber: version,
                        isPrerelease: r.prerelease == true || version.contains(where: \.isLetter),
                        date: r.published_at.map { String($0.prefix(10)) }, artifacts: [artifact]))
            }
        }
        return out
    }
}
