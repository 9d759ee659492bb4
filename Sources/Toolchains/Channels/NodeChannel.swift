/// Node.js: `<node>/index.json` lists releases (`version` "v24.1.0", `date`, `files` ["linux-x64", …], `lts`
/// false or the codename); the archive is `v<V>/node-v<V>-<platform>.tar.xz`, its sha256 in `v<V>/SHASUMS256.txt`.
enum NodeChannel {
    struct Entry: Decodable {
        var version: String
        var date: String?
        var files: [String]
        var lts: LTS
    }

    /// `lts` is `false` or a codename string.
    enum LTS: Decodable {
        case no
        case codename(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                self = .codename(s)
            } else {
                _ = try c.decode(Bool.self)
                self = .no
            }
        }
    }

    static func indexURL(_ s: ChannelSettings) -> String { s.url(.node, "index.json") }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let entries = try IndexFetcher.decode([Entry].self, data, url: indexURL(s), endpoint: .node)
        return entries.compactMap { e in
            guard e.files.contains(platform.node), e.version.hasPrefix("v") else { return nil }
            let name = "node-\(e.version)-\(platform.node).tar.xz"
            let dir = s.url(.node, e.version)
            let artifact = ToolchainArtifact(
                component: "node", url: dir + "/" + name,
                checksum: .file(url: dir + "/SHASUMS256.txt", fileName: name, algorithm: .sha256), size: nil,
                format: .tarXz)
            var codename: String? = nil
            if case .codename(let c) = e.lts { codename = c }
            return ChannelRelease(
                tool: .node, platform: platform, version: e.version,
                versionNumber: String(e.version.dropFirst()), ltsCodename: codename,
                isLTS: codename != nil, isPrerelease: e.version.contains("-"), date: e.date,
                artifacts: [artifact])
        }
    }
}
