import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// One entry of the local layer cache as `ociforge cache ls` shows it.
public struct LocalCacheItem: Codable, Sendable, Hashable {
    public var key: String
    public var createdBy: String
    public var layerDigest: Digest?
    /// Compressed layer size (0 for a step that changed nothing).
    public var size: Int64
    public var created: String
    /// When a build last used it (the entry file's mtime, refreshed on every hit), seconds since the epoch.
    public var lastUsed: Int64
}

/// What `prune` removed.
public struct LocalCachePruneResult: Codable, Sendable, Hashable {
    public var removedEntries: Int
    public var removedBlobs: Int
    public var freedBytes: Int64
    public var keptEntries: Int
    public var keptBytes: Int64
}

/// `ociforge cache ls | prune` over a local layer cache (`BuildCache`): entries listed with their last use;
/// pruning removes entries (under each key's lock, entry first) unused for longer than a given age and then the
/// least recently used ones until the layer blobs fit a byte budget, then the blobs nothing references any more.
/// Run prune while no build uses the cache: a build that already chose an entry may still read its tree.
public enum LocalCacheInventory {
    /// Every complete entry, most recently used first.
    public static func list(_ cache: BuildCache) -> [LocalCacheItem] {
        let dir = cache.directory + "/entries"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasSuffix(".json") && !$0.hasPrefix(".")
        }
        var items: [LocalCacheItem] = []
        for name in names {
            let path = dir + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, let data = FileManager.default.contents(atPath: path),
                let e = try? JSONDecoder().decode(BuildCacheEntry.self, from: data)
            else { continue }
            items.append(
                LocalCacheItem(
                    key: e.key, createdBy: e.createdBy, layerDigest: e.layer?.digest, size: e.layer?.size ?? 0,
                    created: e.created, lastUsed: Int64(st.st_mtim.tv_sec)))
        }
        return items.sorted { ($0.lastUsed, $0.key) > ($1.lastUsed, $1.key) }
    }

    /// Removes entries unused for more than `olderThan` seconds, then the least recently used until the entries'
    /// layers total at most `keepBytes`, then blobs no remaining entry or tagged image references.
    public static func prune(_ cache: BuildCache, olderThan: Int64?, keepBytes: Int64?, now: Int64 = Int64(time(nil)))
        throws(BuildEngineError) -> LocalCachePruneResult
    {
        var kept = list(cache)
        var doomed: [LocalCacheItem] = []
        if let olderThan {
            doomed += kept.filter { now - $0.lastUsed > olderThan }
            kept.removeAll { now - $0.lastUsed > olderThan }
        }
        if let keepBytes {
            while kept.reduce(0, { $0 + $1.size }) > keepBytes, let last = kept.popLast() { doomed.append(last) }
        }
        for item in doomed {
            do {
                try FileLock.withExclusive(cache.lockPath(item.key)) { cache.remove(item.key) }
            } catch {
                throw BuildEngineError(.cache, "cannot lock the cache entry \(item.key) to remove it", cause: error)
            }
            try? cache.blobs.removeTag("base-" + String(item.key.prefix(40)))
        }
        var referenced = Set(kept.compactMap(\.layerDigest))
        referenced.formUnion(taggedBlobs(cache.blobs))
        var removedBlobs = 0
        var freed: Int64 = 0
        for digest in Set(doomed.compactMap(\.layerDigest)).subtracting(referenced) {
            let path = cache.blobs.blobPath(digest)
            var st = stat()
            if lstat(path, &st) == 0, unlink(path) == 0 {
                removedBlobs += 1
                freed += Int64(st.st_size)
            }
        }
        return LocalCachePruneResult(
            removedEntries: doomed.count, removedBlobs: removedBlobs, freedBytes: freed, keptEntries: kept.count,
            keptBytes: kept.reduce(0) { $0 + $1.size })
    }

    /// The blobs of the images tagged in the cache's layout (the bases' one-layer images).
    static func taggedBlobs(_ layout: OCILayout) -> Set<Digest> {
        var blobs = Set<Digest>()
        for d in (try? layout.readIndex().manifests) ?? [] {
            blobs.insert(d.digest)
            guard let m = try? layout.readDocument(Manifest.self, d).value else { continue }
            blobs.insert(m.config.digest)
            blobs.formUnion(m.layers.map(\.digest))
        }
        return blobs
    }
}
