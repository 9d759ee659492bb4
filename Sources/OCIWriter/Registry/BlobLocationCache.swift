import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Remembers which repositories of which registry hold a blob, across runs, so a push to a new repository can
/// mount blobs it pushed or pulled elsewhere on the same registry (as skopeo's blob info cache does).
///
/// Stored as JSON at `$XDG_CACHE_HOME/ociforge/blob-locations.json` (default `~/.cache/…`); a lost or corrupt
/// cache only costs uploads. At most `maxDigestsPerRegistry` digests are kept per registry (oldest dropped).
public struct BlobLocationCache: Sendable {
    public let path: String
    public static let maxDigestsPerRegistry = 20_000

    public init(path: String) { self.path = path }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache")
        path = base + "/ociforge/blob-locations.json"
    }

    struct Entry: Codable {
        var repos: [String]
        var seen: Int64
    }

    private func readAll() -> [String: [String: Entry]] {
        guard let data = FileManager.default.contents(atPath: path),
            let obj = try? JSONDecoder().decode([String: [String: Entry]].self, from: data)
        else { return [:] }
        return obj
    }

    /// Known repositories per digest for `registry`.
    public func load(registry: String) -> [Digest: [String]] {
        var out: [Digest: [String]] = [:]
        for (k, v) in readAll()[registry] ?? [:] {
            if let d = try? Digest(k) { out[d] = v.repos }
        }
        return out
    }

    /// Merges `locations` into the cache (atomic replace; concurrent writers may lose each other's additions).
    public func merge(registry: String, locations: [Digest: [String]]) {
        guard !locations.isEmpty else { return }
        var all = readAll()
        var reg = all[registry] ?? [:]
        let now = Int64(time(nil))
        for (d, repos) in locations {
            var e = reg[d.string] ?? Entry(repos: [], seen: now)
            for r in repos where !e.repos.contains(r) { e.repos.append(r) }
            if e.repos.count > 16 { e.repos.removeFirst(e.repos.count - 16) }
            e.seen = now
            reg[d.string] = e
        }
        if reg.count > Self.maxDigestsPerRegistry {
            for (k, _) in reg.sorted(by: { $0.value.seen < $1.value.seen }).prefix(
                reg.count - Self.maxDigestsPerRegistry)
            {
                reg.removeValue(forKey: k)
            }
        }
        all[registry] = reg
        let dir = (path as NSString).deletingLastPathComponent
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
            let data = try? CanonicalJSON.encode(all)
        else { return }
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if FileManager.default.createFile(atPath: tmp, contents: Data(data)) {
            if rename(tmp, path) != 0 { unlink(tmp) }
        }
    }
}

extension RegistryClient {
    /// Seeds the mount candidates (e.g. from `BlobLocationCache`).
    public func rememberLocations(_ locations: [Digest: [String]]) async {
        for (d, repos) in locations { for r in repos { await knownLocations.note(d, r) } }
    }

    /// Every blob location this client learned or was given.
    public func knownBlobLocations() async -> [Digest: [String]] { await knownLocations.all() }
}

extension BlobLocations {
    func all() -> [Digest: [String]] { map }
}
