/// sbt: GitHub releases of sbt/sbt, tags `v<V>`; the archive is `sbt-<V>.tgz` (a launcher tree `sbt/bin/sbt`, the
/// same for every platform), its sha256 in the `sbt-<V>.tgz.sha256` asset next to it. sbt runs on a JDK, which the
/// plan provides separately (Temurin or Debian's openjdk).
enum SbtChannel {
    static func assetName(_ tag: String) -> String { "sbt-\(tag.dropFirst()).tgz" }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        try GitHubRelease.singleAssetReleases(
            data, tool: .sbt, platform: platform, settings: s, format: .tarGzip, assetName: assetName)
    }
}
