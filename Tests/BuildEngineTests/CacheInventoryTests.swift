import Foundation
import OCIWriter
import Planner
import Sandbox
import Testing

@testable import BuildEngine

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge plan --cache-keys` (keys before anything runs) and `ociforge cache ls | prune` on the fake runner.
@Suite struct CacheInventoryTests {
    @Test("the keys computed before building are the keys the build stores; nothing runs to compute them")
    func keysBeforeBuilding() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        let before = try BuildEngine.cacheKeys(try w.request(), runner: runner)
        #expect(runner.phases.isEmpty, "computing keys ran \(runner.phases)")
        #expect(!FileManager.default.fileExists(atPath: w.layout), "computing keys wrote no image")
        #expect(before.allSatisfy { !$0.cachedLocally })
        #expect(before.map { "\($0.stage)/\($0.phase)" }.contains("build/build"))
        let report = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        let cache = try BuildCache(directory: w.state + "/build-cache")
        let stored = Set(LocalCacheInventory.list(cache).map(\.key))
        #expect(Set(before.map(\.key)) == stored, "predicted \(before.count) keys, stored \(stored.count)")
        let after = try BuildEngine.cacheKeys(try w.request(), runner: runner)
        #expect(after.map(\.key) == before.map(\.key) && after.allSatisfy(\.cachedLocally))
        #expect(report.executed == ["build/build", "runtime/user"])
    }

    @Test("prune: entries unused for longer than the age go, then the least recently used beyond the byte budget")
    func pruneByAgeAndSize() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        _ = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        let cache = try BuildCache(directory: w.state + "/build-cache")
        let items = LocalCacheInventory.list(cache)
        #expect(items.count >= 4)
        // The oldest use: two days ago for the build step's entry.
        let old = try #require(items.first { $0.createdBy.contains("phase build") })
        var times = [
            timespec(tv_sec: time(nil) - 2 * 86400, tv_nsec: 0), timespec(tv_sec: time(nil) - 2 * 86400, tv_nsec: 0)
        ]
        #expect(utimensat(AT_FDCWD, cache.entryPath(old.key), &times, 0) == 0)
        let byAge = try LocalCacheInventory.prune(cache, olderThan: 86400, keepBytes: nil)
        #expect(byAge.removedEntries == 1 && byAge.keptEntries == items.count - 1)
        #expect(cache.lookup(old.key) == nil && !FileManager.default.fileExists(atPath: cache.treePath(old.key)))
        if let d = old.layerDigest { #expect(!cache.blobs.hasBlob(d), "its blob went too") }
        let bySize = try LocalCacheInventory.prune(cache, olderThan: nil, keepBytes: 0)
        #expect(bySize.keptBytes == 0 && LocalCacheInventory.list(cache).allSatisfy { $0.size == 0 })
        // The next build runs again what was pruned, to the same image.
        let again = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        #expect(again.executed == ["build/build", "runtime/user"])
    }
}
