import Foundation

/// Zig: `<zig>/index.json` maps `"master"` and each version to `{date, "<arch>-linux": {tarball, shasum, size}}`
/// (`size` a string). Tarball URLs under ziglang.org/download are rebased onto a configured mirror.
enum ZigChannel {
    static func indexURL(_ s: ChannelSettings) -> String { s.url(.zig, "index.json") }

    static func parse(_ data: [UInt8], platform: Platform, settings s: ChannelSettings) throws(ToolchainError)
        -> [ChannelRelease]
    {
        let url = indexURL(s)
        let root: [String: Any]
        do {
            guard let r = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
                throw ToolchainError(.invalidIndex, "the zig index is not a JSON object", url: url, endpoint: .zig)
            }
            root = r
        } catch let e as ToolchainError {
            throw e
        } catch {
            throw ToolchainError(.invalidIndex, "the zig index is not JSON", url: url, endpoint: .zig, cause: error)
        }
        var out: [ChannelRelease] = []
        for key in root.keys.sorted() {
            guard let entry = root[key] as? [String: Any], let file = entry[platform.zig] as? [String: Any] else {
                continue
            }
            guard let tarball = file["tarball"] as? String, let shasum = file["shasum"] as? String,
                let sum = Checksum(.sha256, hex: shasum), let format = ArchiveFormat(fileName: tarball)
            else {
                throw ToolchainError(
                    .invalidIndex, "\(key).\(platform.zig): needs tarball (.tar.xz) and a sha256 shasum",
                    url: url, endpoint: .zig)
            }
            let size = (file["size"] as? String).flatMap { Int64($0) } ?? (file["size"] as? Int).map(Int64.init)
            let version = key == "master" ? (entry["version"] as? String ?? key) : key
            let artifact = ToolchainArtifact(
                component: "zig", url: s.rebase(tarball, .zig), checksum: .inline(sum),
                size: size, format: format)
            out.append(
                ChannelRelease(
                    tool: .zig, platform: platform, version: version, versionNumber: version,
                    isPrerelease: key == "master" || version.contains("-"),
                    date: entry["date"] as? String, artifacts: [artifact]))
        }
        return out
    }
}
