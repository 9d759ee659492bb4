import Foundation
import OCIWriter
import Sandbox
import Synchronization

/// One step's key as `ociforge plan --cache-keys` prints it, before anything runs.
public struct StepCacheKey: Codable, Sendable, Hashable {
    public var stage: String
    public var phase: String
    public var key: String
    public var createdBy: String
    /// The local layer cache has the entry.
    public var cachedLocally: Bool
}

/// Collects the keys of a plan build run in keys-only mode (`BuildOptions.keyPreview`): `StageRunner.step` records
/// each key and returns the local entry (or a stand-in that "changed something") without producing anything, bases
/// are named without being assembled, and the run stops where the image would be assembled. A step that never ran
/// anywhere is assumed to change something (a layer): the keys after a step that in fact changes nothing differ.
final class CacheKeyPreview: Sendable {
    private let collected = Mutex<[StepCacheKey]>([])

    var keys: [StepCacheKey] { collected.withLock { $0 } }

    func add(_ k: StepCacheKey) { collected.withLock { $0.append(k) } }

    /// Ends a keys-only run where the image would be assembled.
    struct Done: Error {}

    /// The stand-in layer of a step with no local entry.
    static func standIn(_ key: String) -> CachedLayer {
        let d = Digest.of(Array(key.utf8))
        return CachedLayer(digest: d, diffID: d, size: 0, uncompressedSize: 0, mediaType: .ociLayerGzip)
    }
}

extension BuildEngine {
    /// The cache keys of every step of a plan build, computed before anything runs (no base assembled, no phase
    /// run, nothing written but the state directory's skeleton): what a scheduler needs to route the build to a
    /// worker whose cache has them.
    public static func cacheKeys(_ request: BuildRequest, runner: any PhaseRunner) throws(BuildEngineError)
        -> [StepCacheKey]
    {
        guard case .app(_, let result, _) = request.source, result.plan.strategy == .plan else {
            throw BuildEngineError(
                .unsupported, "cache keys can be computed before building for plan builds only, not for a Dockerfile")
        }
        var options = request.options
        let preview = CacheKeyPreview()
        options.keyPreview = preview
        do {
            _ = try image(request, options: options, runner: runner)
        } catch is CacheKeyPreview.Done {
            return preview.keys
        } catch {
            throw BuildEngineError.wrapping(error, "cannot compute the cache keys")
        }
        return preview.keys
    }
}
