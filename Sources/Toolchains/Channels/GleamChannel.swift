/// Gleam: GitHub releases of gleam-lang/gleam, tags `v<V>`; the archive is the static (musl) build
/// `gleam-v<V>-x86_64-unknown-linux-musl.tar.gz` / `gleam-v<V>-aarch64-unknown-linux-musl.tar.gz` (one `gleam`
/// executable), its sha256 in the `<asset>.sha256` asset next to it. Gleam runs on Erlang/OTP, which the plan takes
/// from Debian (no relocatable upstream build exists).
enum GleamChannel {
    static func assetName(_ tag: String, _ p: Platform) -> String {
        "gleam-\(tag)-\(p.gnuArch)-unknown-linux-musl.tar.gz"
    }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        try GitHubRelease.singleAssetReleases(
            data, tool: .gleam, platform: platform, settings: s, format: .tarGzip
        ) { assetName($0, platform) }
    }
}
