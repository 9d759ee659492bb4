import Foundation

/// Dart: the `dart-archive` Google Cloud Storage bucket. Versions are the "directories" of the stable channel, listed
/// by the JSON API `storage/v1/b/dart-archive/o?prefix=channels/stable/release/&delimiter=/` (`prefixes`:
/// `channels/stable/release/3.5.4/`, …, paged by `nextPageToken`; entries that are not versions — `latest/` and the
/// SVN revision numbers of early releases — are skipped). The archive is
/// `dart-archive/channels/stable/release/<V>/sdk/dartsdk-linux-<x64|arm64>-release.zip` (top directory `dart-sdk`),
/// its sha256 in `<zip>.sha256sum` next to it.
enum DartChannel {
    struct Listing: Decodable {
        var prefixes: [String]?
        var nextPageToken: String?
    }

    static let releasePrefix = "channels/stable/release/"
    /// Bound on listing pages followed (the stable channel has a few hundred entries: one page).
    static let maxPages = 20

    static func indexURL(_ s: ChannelSettings, pageToken: String? = nil) -> String {
        var path = "storage/v1/b/dart-archive/o?prefix=\(releasePrefix)&delimiter=/"
        if let t = pageToken?.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            path += "&pageToken=" + t
        }
        return s.url(.dart, path)
    }

    /// One listing page: its releases for `platform` and the next page's token.
    static func parse(_ data: [UInt8], url: String, platform: Platform, settings s: ChannelSettings)
        throws(ToolchainError) -> (releases: [ChannelRelease], next: String?)
    {
        let listing = try IndexFetcher.decode(Listing.self, data, url: url, endpoint: .dart)
        let releases = (listing.prefixes ?? []).compactMap { p -> ChannelRelease? in
            guard p.hasPrefix(releasePrefix) else { return nil }
            let v = String(p.dropFirst(releasePrefix.count).prefix { $0 != "/" })
            guard isVersion(v) else { return nil }
            let name = "dartsdk-\(platform.node)-release.zip"
            let zip = s.url(.dart, "dart-archive/\(releasePrefix)\(v)/sdk/\(name)")
            let artifact = ToolchainArtifact(
                component: "dart", url: zip,
                checksum: .file(url: zip + ".sha256sum", fileName: name, algorithm: .sha256),
                size: nil, format: .zip)
            return ChannelRelease(
                tool: .dart, platform: platform, version: v, versionNumber: v, isPrerelease: v.contains("-"),
                artifacts: [artifact])
        }
        return (releases, listing.nextPageToken.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `X.Y.Z` with an optional `-suffix` of letters, digits and dots.
    static func isVersion(_ v: String) -> Bool {
        let parts = v.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 3,
            numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return false }
        return parts.count == 1
            || (!parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == ".") })
    }
}
