import Foundation
import OCIWriter
import Testing

@testable import BuildEngine

/// Concurrent stores of one key (two builds running the same step at once): serialised by the key's lock, the
/// later store returns the earlier complete entry and discards its own files; a lookup racing with them only ever
/// sees nothing or a complete, verified entry (docs/concurrency.md).
@Suite struct BuildCacheConcurrencyTests {
    @Test func concurrentStoresOfOneKeyKeepOneCompleteEntry() async throws {
        let root = try BuildCacheTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try BuildCache(directory: root + "/cache")
        for round in 0..<5 {
            let key = "same-\(round)"
            let entries = try await withThrowingTaskGroup(of: BuildCacheEntry.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await OCILayout.offloading {
                            let file = cache.blobs.temporaryBlobPath(label: "t")
                            let r = try LayerWriter.write(directory: root + "/src", to: file)
                            let tree = cache.scratchPath("tree")
                            try FileManager.default.copyItem(atPath: root + "/src", toPath: tree)
                            // Existence first: an entry file seen before the lookup is a complete one (entries
                            // appear by rename after their tree and blob), so the lookup must accept it. (Checked
                            // the other way round, a store finishing between the two calls fails the test.)
                            if FileManager.default.fileExists(atPath: cache.entryPath(key)), cache.lookup(key) == nil {
                                Issue.record("an entry file exists but the lookup refused it")
                            }
                            return try cache.store(key: key, createdBy: "test", layer: r, layerFile: file, tree: tree)
                        }
                    }
                }
                var all: [BuildCacheEntry] = []
                for try await e in group { all.append(e) }
                return all
            }
            #expect(entries.allSatisfy { $0 == entries[0] }, "every store returns the one complete entry")
            let found = try #require(cache.lookup(key))
            #expect(found == entries[0])
            #expect(FileManager.default.fileExists(atPath: cache.treePath(key) + "/dir/file"))
        }
        // Nothing left in the scratch area or as temporary blobs.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/cache/tmp").isEmpty)
        let blobTemps = try FileManager.default.contentsOfDirectory(atPath: root + "/cache/blobs/blobs").filter {
            $0 != "sha256"
        }
        #expect(blobTemps.isEmpty, "\(blobTemps)")
    }
}
