/// Java (Eclipse Temurin) through the Adoptium API v3: `v3/info/available_releases` lists feature versions
/// (`available_releases`, `available_lts_releases`); `v3/assets/latest/<N>/hotspot?architecture=…&image_type=jdk
/// &os=linux&vendor=eclipse` gives the newest GA JDK of each (`release_name` "jdk-21.0.5+11", `version`,
/// `binary.package{name, link, checksum (sha256), size}`). One release per feature version is listed.
enum TemurinChannel {
    struct Available: Decodable {
        var available_releases: [Int]
        var available_lts_releases: [Int]
    }
    struct Asset: Decodable {
        var release_name: String
        var binary: Binary
        var version: Version
    }
    struct Binary: Decodable {
        var architecture: String
        var image_type: String
        var os: String
        var package: Package
    }
    struct Package: Decodable {
        var name: String
        var link: String
        var checksum: String
        var size: Int64?
    }
    struct Version: Decodable {
        var major: Int
        var minor: Int
        var security: Int
        var build: Int?
        var openjdk_version: String?
    }

    static func availableURL(_ s: ChannelSettings) -> String { s.url(.java, "v3/info/available_releases") }

    /// `jdk`, or `jre` for the runtime flavor.
    static func imageType(_ f: ToolchainFlavor) -> String { f == .runtime ? "jre" : "jdk" }

    static func assetsURL(_ s: ChannelSettings, feature: Int, platform: Platform, flavor: ToolchainFlavor) -> String {
        s.url(
            .java,
            "v3/assets/latest/\(feature)/hotspot?architecture=\(platform.adoptium)&image_type=\(imageType(flavor))&os=linux&vendor=eclipse"
        )
    }

    static func parseAssets(
        _ data: [UInt8], feature: Int, lts: Bool, platform: Platform, flavor: ToolchainFlavor,
        settings s: ChannelSettings
    ) throws(ToolchainError) -> [ChannelRelease] {
        let url = assetsURL(s, feature: feature, platform: platform, flavor: flavor)
        let assets = try IndexFetcher.decode([Asset].self, data, url: url, endpoint: .java)
        var out: [ChannelRelease] = []
        for a in assets
        where a.binary.os == "linux" && a.binary.architecture == platform.adoptium
            && a.binary.image_type == imageType(flavor)
        {
            guard let sum = Checksum(.sha256, hex: a.binary.package.checksum),
                let format = ArchiveFormat(fileName: a.binary.package.name)
            else {
                throw ToolchainError(
                    .invalidIndex, "\(a.release_name): package needs a .tar.gz name and a sha256 checksum",
                    url: url, endpoint: .java)
            }
            let v = a.version
            let number = "\(v.major).\(v.minor).\(v.security)" + (v.build.map { "+\($0)" } ?? "")
            let artifact = ToolchainArtifact(
                component: imageType(flavor), url: s.rebase(a.binary.package.link, .java), checksum: .inline(sum),
                size: a.binary.package.size, format: format)
            out.append(
                ChannelRelease(
                    tool: .java, platform: platform, version: a.release_name, versionNumber: number,
                    isLTS: lts, artifacts: [artifact], flavor: flavor))
        }
        return out
    }
}
