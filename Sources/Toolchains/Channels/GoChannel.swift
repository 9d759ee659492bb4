/// Go: `<go>/?mode=json&include=all` lists every release (`version` "go1.23.4", `stable`, `files[]` with
/// `filename`, `os`, `arch`, `sha256`, `size`, `kind`); the archive is `<go>/<filename>`.
enum GoChannel {
    struct Release: Decodable {
        var version: String
        var stable: Bool
        var files: [File]
    }
    struct File: Decodable {
        var filename: String
        var os: String
        var arch: String
        var sha256: String
        var size: Int64?
        var kind: String
    }

    static func indexURL(_ s: ChannelSettings) -> String { s.url(.go, "?mode=json&include=all") }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = indexURL(s)
        let releases = try IndexFetcher.decode([Release].self, data, url: url, endpoint: .go)
        var out: [ChannelRelease] = []
        for r in releases {
            guard
                let f = r.files.first(where: { $0.kind == "archive" && $0.os == "linux" && $0.arch == platform.goArch }
                ),
                let format = ArchiveFormat(fileName: f.filename)
            else { continue }
            guard let sum = Checksum(.sha256, hex: f.sha256) else {
                throw ToolchainError(
                    .invalidIndex, "\(f.filename): sha256 '\(f.sha256)' is not 64 hex digits", url: url,
                    endpoint: .go)
            }
            let artifact = ToolchainArtifact(
                component: "go", url: s.url(.go, f.filename), checksum: .inline(sum),
                size: f.size, format: format)
            let number = r.version.hasPrefix("go") ? String(r.version.dropFirst(2)) : r.version
            out.append(
                ChannelRelease(
                    tool: .go, platform: platform, version: r.version, versionNumber: number,
                    isPrerelease: !r.stable, artifacts: [artifact]))
        }
        return out
    }
}
