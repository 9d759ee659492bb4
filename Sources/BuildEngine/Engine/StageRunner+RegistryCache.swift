import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The registry cache under `StageRunner.step`: a local miss is looked up in the `--cache-from` repositories and a
/// usable entry becomes a local one (layer blob verified by digest; its tree unpacked from the layer, diffID
/// verified); every step the build uses is remembered for `--cache-to`.
extension StageRunner {
    /// `key`'s entry pulled from a registry cache and stored in the local cache; nil when no repository has a
    /// usable one (what was wrong is a warning).
    func imported(_ key: String, reporting: StepReporting) -> BuildCacheEntry? {
        guard let session = options.registryCacheSession, !session.options.importFrom.isEmpty else { return nil }
        let cache = self.cache
        guard let pulled = session.pull(key, temporaryFile: { cache.blobs.temporaryBlobPath(label: "pulled") })
        else { return nil }
        let record = pulled.record
        do {
            var tree: String?
            if record.hasTree, let layer = record.layer, let file = pulled.layerFile {
                tree = try treeFromLayer(file, layer: layer)
            } else if record.hasTree {
                tree = cache.scratchPath("pulled")
                try makeDirectories(tree!)
                try sandbox.identity.giveToNamespaceRoot([tree!])
            }
            let entry = try cache.store(
                key: key, createdBy: record.createdBy, cached: record.layer, layerFile: pulled.layerFile, tree: tree)
            options.emit(.message("[\(reporting.name)] from the registry cache \(pulled.source)"))
            return entry
        } catch {
            if let f = pulled.layerFile { unlink(f) }
            session.warn(
                "registry cache \(pulled.source) could not be used, the step is built instead",
                cause: error)
            return nil
        }
    }

    /// Remembers `entry` for the export to `--cache-to` (its blob stays in the local cache until then).
    func noteForExport(_ entry: BuildCacheEntry, reporting: StepReporting) {
        guard let session = options.registryCacheSession else { return }
        let record = CacheRecord(
            key: entry.key, stage: reporting.timingStage, phase: reporting.timingPhase, createdBy: entry.createdBy,
            layer: entry.layer, hasTree: entry.hasTree)
        session.note(record, layerFile: entry.layer.map { cache.blobs.blobPath($0.digest) })
    }

    /// The overlay-lower tree of a pulled layer: unpacked into a scratch directory (owners mapped into the
    /// sandbox's namespace, digest, size and diffID verified while streaming), then its whiteouts and opaque
    /// markers written the way overlayfs reads them in a lower (a 0/0 character device, or unprivileged an
    /// empty file with `user.overlay.whiteout`; `user.overlay.opaque`).
    func treeFromLayer(_ file: String, layer: CachedLayer) throws -> String {
        let tree = cache.scratchPath("pulled")
        do {
            _ = try LayerExtractor.unpack(
                layers: [LayerSource(path: file, digest: layer.digest, size: layer.size, diffID: layer.diffID)],
                to: tree,
                options: LayerExtractionOptions(
                    limits: sandbox.state.extractionLimits, ownership: BaseStore.ownership(for: sandbox.identity),
                    devices: .skip))
            try OverlayMarkers.write(layer: file, into: tree)
            try sandbox.identity.giveToNamespaceRoot([tree])
            return tree
        } catch {
            removeTree(tree)
            throw error
        }
    }
}
