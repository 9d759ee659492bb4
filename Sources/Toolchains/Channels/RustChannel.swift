/// Rust: `<rust>/dist/channel-rust-<stable|beta|nightly|X.Y.Z>.toml`. The release is the `minimal` profile for
/// the host: `rustc`, `cargo` and `rust-std` from `[pkg.<name>.target.<triple>]` (`available`, `xz_url`/`xz_hash`,
/// else `url`/`hash`, sha256), installed together into one prefix. Component URLs are rebased onto a mirror.
enum RustChannel {
    static let components = ["rustc", "cargo", "rust-std"]

    static func manifestURL(_ s: ChannelSettings, channel: String) -> String {
        s.url(.rust, "dist/channel-rust-\(channel).toml")
    }

    /// Channel names and versions accepted in a manifest name: `stable`, `beta`, `nightly`, `1.78.0`, `1.78`.
    static func isValidChannel(_ c: String) -> Bool {
        !c.isEmpty && c.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
    }

    static func parse(
        _ data: [UInt8], channel: String, platform: Platform,
        settings s: ChannelSettings
    ) throws(ToolchainError) -> ChannelRelease {
        let url = manifestURL(s, channel: channel)
        let m = try RustManifest(String(decoding: data, as: UTF8.self), url: url)
        guard let full = m.tables["pkg.rustc"]?["version"], let number = full.split(separator: " ").first else {
            throw ToolchainError(.invalidIndex, "the manifest has no [pkg.rustc] version", url: url, endpoint: .rust)
        }
        var artifacts: [ToolchainArtifact] = []
        for name in components {
            let header = "pkg.\(name).target.\(platform.gnuTriple)"
            guard let t = m.tables[header], t["available"] == "true" else {
                throw ToolchainError(
                    .unsupportedPlatform, "\(name) \(number) is not available for \(platform.gnuTriple)",
                    url: url, endpoint: .rust)
            }
            let (u, h) = t["xz_url"].flatMap { x in t["xz_hash"].map { (x, $0) } } ?? (t["url"] ?? "", t["hash"] ?? "")
            guard let sum = Checksum(.sha256, hex: h), let format = ArchiveFormat(fileName: u) else {
                throw ToolchainError(
                    .invalidIndex, "[\(header)] needs a .tar.xz/.tar.gz url and its sha256 hash", url: url,
                    endpoint: .rust)
            }
            artifacts.append(
                ToolchainArtifact(
                    component: name, url: s.rebase(u, .rust), checksum: .inline(sum),
                    size: nil, format: format))
        }
        let pre = channel == "beta" || channel.hasPrefix("nightly") || number.contains("-")
        return ChannelRelease(
            tool: .rust, platform: platform, version: String(number), versionNumber: String(number),
            isPrerelease: pre, date: m.tables[""]?["date"], artifacts: artifacts)
    }
}
