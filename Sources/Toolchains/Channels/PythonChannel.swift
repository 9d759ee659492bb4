/// Python: python-build-standalone (astral-sh) GitHub releases, tag = build date. Assets
/// `cpython-<V>+<YYYYMMDD>-<triple>-install_only_stripped.tar.gz` (relocatable, stripped); sha256 in the release's
/// `SHA256SUMS` asset. When several releases carry the same Python version, the newest build date wins.
enum PythonChannel {
    static let flavor = "install_only_stripped.tar.gz"

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = GitHubRelease.listURL(s, .python)
        let releases = try IndexFetcher.decode([GitHubRelease].self, data, url: url, endpoint: .python)
        var best: [String: (build: String, release: ChannelRelease)] = [:]
        var order: [String] = []
        let suffix = "-\(platform.gnuTriple)-\(flavor)"
        for r in releases where r.draft != true {
            guard let sums = r.asset("SHA256SUMS") else { continue }
            for a in r.assets where a.name.hasPrefix("cpython-") && a.name.hasSuffix(suffix) {
                let published = String(a.name.dropFirst("cpython-".count).dropLast(suffix.count))
                let parts = published.split(separator: "+", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[1].count == 8, parts[1].allSatisfy(\.isNumber) else { continue }
                let artifact = ToolchainArtifact(
                    component: "python", url: s.rebase(a.browser_download_url, .python),
                    checksum: .file(
                        url: s.rebase(sums.browser_download_url, .python), fileName: a.name, algorithm: .sha256),
                    size: a.size,
                    format: .tarGzip)
                let pre = parts[0].contains(where: \.isLetter)
                let date = "\(parts[1].prefix(4))-\(parts[1].dropFirst(4).prefix(2))-\(parts[1].suffix(2))"
                let release = ChannelRelease(
                    tool: .python, platform: platform, version: published, versionNumber: parts[0],
                    isPrerelease: pre, date: date, artifacts: [artifact])
                if let old = best[parts[0]] {
                    if parts[1] > old.build { best[parts[0]] = (parts[1], release) }
                } else {
                    best[parts[0]] = (parts[1], release)
                    order.append(parts[0])
                }
            }
        }
        return order.compactMap { best[$0]?.release }
    }
}
