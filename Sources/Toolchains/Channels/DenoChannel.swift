/// Deno: `<deno-index>/versions.json` (`{"cli": ["v2.1.4", …]}`) lists versions; the archive is
/// `<deno>/release/v<V>/deno-<triple>.zip` with its sha256 in `<zip>.sha256sum` next to it.
enum DenoChannel {
    struct Versions: Decodable {
        var cli: [String]
    }

    static func indexURL(_ s: ChannelSettings) -> String { s.url(.denoIndex, "versions.json") }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let versions = try IndexFetcher.decode(Versions.self, data, url: indexURL(s), endpoint: .denoIndex).cli
        return versions.map { v in
            let tag = v.hasPrefix("v") ? v : "v" + v
            let name = "deno-\(platform.gnuTriple).zip"
            let url = s.url(.deno, "release/\(tag)/\(name)")
            let artifact = ToolchainArtifact(
                component: "deno", url: url,
                checksum: .file(url: url + ".sha256sum", fileName: name, algorithm: .sha256),
                size: nil, format: .zip)
            return ChannelRelease(
                tool: .deno, platform: platform, version: v, versionNumber: String(tag.dropFirst()),
                isPrerelease: tag.contains("-"), artifacts: [artifact])
        }
    }
}
