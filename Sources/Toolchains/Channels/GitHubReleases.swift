/// The GitHub releases API shape (`releases?per_page=100`) that Bun and python-build-standalone publish through;
/// a mirror serves the same JSON with its own download URLs.
struct GitHubRelease: Decodable {
    var tag_name: String
    var prerelease: Bool?
    var draft: Bool?
    var published_at: String?
    var assets: [Asset]

    struct Asset: Decodable {
        var name: String
        var browser_download_url: String
        var size: Int64?
        /// `sha256:<hex>`, computed by GitHub at upload (absent on assets uploaded before mid-2025).
        var digest: String?
    }

    /// The first page of releases, newest first: 100 for Bun and Ruby; 10 for python-build-standalone, whose
    /// releases carry about a thousand assets each (a page of 100 would be well over 100 MB of JSON). Its newest
    /// releases hold the newest patch of every supported CPython minor; older patches are not listed.
    static func listURL(_ s: ChannelSettings, _ e: ChannelEndpoint) -> String {
        s.url(e, "releases?per_page=\(e == .python ? 10 : 100)")
    }

    func asset(_ name: String) -> Asset? { assets.first { $0.name == name } }
}
