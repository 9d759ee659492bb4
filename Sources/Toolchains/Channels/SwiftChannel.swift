import Foundation

/// swift.org: the install API's `api/v1/install/releases.json` lists releases as `{name: "6.2.1", tag:
/// "swift-6.2.1-RELEASE", date, platforms: [{name, platform, archs, dir}]}`. A Linux toolchain is the tarball
/// `download.swift.org/swift-<V>-release/<dir>[-aarch64]/swift-<V>-RELEASE/swift-<V>-RELEASE-<dir>[-aarch64].tar.gz`
/// with a detached OpenPGP signature `<tarball>.sig` and no checksum (the API's `checksum` fields cover the SDK
/// bundles, not the toolchains). The Debian 12 build (`dir` `debian12`) is the one installed: it runs on Debian 12
/// and 13 bases. Its top directory holds `usr/bin/swift`.
enum SwiftChannel {
    /// The swift.org platform directory whose builds are installed (glibc 2.36: bookworm and trixie run them).
    static let platformDirectory = "debian12"
    static let downloadBase = "https://download.swift.org"

    static func indexURL(_ s: ChannelSettings) -> String { s.url(.swift, "api/v1/install/releases.json") }

    struct Release: Decodable {
        var name: String
        var tag: String
        var date: String?
        var platforms: [PlatformEntry]
    }

    struct PlatformEntry: Decodable {
        var dir: String?
        var archs: [String]?
    }

    /// `swift-6.2.1-RELEASE-debian12` (amd64) / `swift-6.2.1-RELEASE-debian12-aarch64` (arm64) tarball URL.
    static func tarballURL(tag: String, platform: Platform) -> String {
        let dir = platformDirectory + (platform == .linuxARM64 ? "-aarch64" : "")
        return "\(downloadBase)/\(tag.lowercased())/\(dir)/\(tag)/\(tag)-\(dir).tar.gz"
    }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = indexURL(s)
        let releases: [Release]
        do {
            releases = try JSONDecoder().decode([Release].self, from: Data(data))
        } catch {
            throw ToolchainError(
                .invalidIndex, "the swift.org release list is not the install API's JSON array", url: url,
                endpoint: .swift, cause: error)
        }
        var out: [ChannelRelease] = []
        for r in releases {
            guard r.tag == "swift-\(r.name)-RELEASE", r.name.allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw ToolchainError(
                    .invalidIndex, "release '\(r.name)' has tag '\(r.tag)', expected swift-\(r.name)-RELEASE",
                    url: url, endpoint: .swift)
            }
            let builds = r.platforms.contains {
                $0.dir == platformDirectory && ($0.archs ?? ["x86_64"]).contains(platform.gnuArch)
            }
            guard builds else { continue }
            let tarball = s.rebase(tarballURL(tag: r.tag, platform: platform), .swift)
            let artifact = ToolchainArtifact(
                component: "swift", url: tarball, checksum: .openPGPSignature(url: tarball + ".sig"), size: nil,
                format: .tarGzip)
            out.append(
                ChannelRelease(
                    tool: .swift, platform: platform, version: r.tag, versionNumber: r.name,
                    date: r.date.map { String($0.prefix(10)) }, artifacts: [artifact]))
        }
        return out
    }
}
