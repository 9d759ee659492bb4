import Foundation
import OCIWriter
import Sandbox
import Synchronization

/// Machine-independent names of base root filesystems, for cache keys: the unpacked tree's host path holds the
/// state directory and the sandbox identity, so keys name the base by what it is — a Debian base by its recipe
/// (`BaseStore.debianKey`: suite, variant, packages, mirror, SOURCE_DATE_EPOCH, mirror publication date), a
/// tarball by its content digest, an image by its manifest digest. A rootfs directory given as the base is
/// named by its path (nothing else identifies it).
final class BaseIdentities: Sendable {
    private let names = Mutex<[String: String]>([:])
    /// Bases taken from a cache whose rootfs is unpacked only when a step must run (`materialize`).
    private let pending = Mutex<[String: @Sendable () throws -> Void]>([:])

    func note(_ rootfs: String, _ name: String) { names.withLock { $0[rootfs] = name } }

    /// `unpack` makes the rootfs at `path` when a step first needs it.
    func deferUnpack(_ path: String, _ unpack: @escaping @Sendable () throws -> Void) {
        pending.withLock { $0[path] = unpack }
    }

    /// Held while deferred bases are unpacked: a stage on another thread waits for the unpack in progress.
    private let unpacking = Mutex(())

    /// Unpacks every deferred base (before a step is produced: a build whose steps all hit never unpacks one).
    func materialize() throws {
        try unpacking.withLock { _ in
            while let (path, unpack) = pending.withLock({ $0.first.map { ($0.key, $0.value) } }) {
                try unpack()
                _ = pending.withLock { $0.removeValue(forKey: path) }
            }
        }
    }

    /// The name of the rootfs at `path` (the path itself when it was not obtained through `StageRunner.baseRootfs`).
    func name(of path: String) -> String { names.withLock { $0[path] } ?? "directory " + path }
}

extension StageRunner {
    /// The key of the base layer of `base` (`slim`: without docs, man pages and locales) — the same on every
    /// machine, so a fresh machine finds the full one in a registry cache and unpacks it instead of building it.
    func baseKey(_ base: String, slim: Bool) -> String {
        CacheKey.of([
            "base", base, options.sourceDateEpoch.map(String.init) ?? "", CacheKey.layerFormat(layerOptions),
            slim ? "slim" : "full"
        ])
    }

    /// The unpacked rootfs of `source`, its identity noted for keys. A Debian base not assembled here yet is
    /// first looked for as a base layer in the local or a registry cache (unpacked: no mmdebstrap run).
    /// Keys-only runs (`BuildEngine.cacheKeys`) name the base and return a stand-in path.
    func baseRootfs(
        _ source: BaseSource, stage: String, platform: Platform? = nil, log: @escaping @Sendable (String) -> Void
    ) throws -> String {
        var store = BaseStore(state: sandbox.state, identity: sandbox.identity, platform: platform)
        store.caBundle = options.caBundle
        let (name, fromCache) = try baseName(source, store: store)
        if options.keyPreview != nil {
            let path = "/nonexistent/ociforge-key-preview/" + CacheKey.of([name])
            bases.note(path, name)
            return path
        }
        if fromCache, let path = try cachedBase(name, store: store, stage: stage, log: log) {
            bases.note(path, name)
            return path
        }
        let path = try store.rootfs(for: source, log: log)
        if case .registry = source { return path }
        bases.note(path, name)
        return path
    }

    /// The machine-independent name of `source`, and whether it may come from a cache (a Debian base not
    /// assembled here whose mirror answered).
    private func baseName(_ source: BaseSource, store: BaseStore) throws -> (String, Bool) {
        switch source {
        case .debian(let suite, let variant, let packages, let mirror):
            let arch = try store.debianArchitecture()
            let recipe = BaseStore.debianRecipe(
                suite: suite, variant: variant, packages: packages, mirror: mirror, architecture: arch,
                caBundle: store.caBundle)
            let haveTarball = FileManager.default.fileExists(
                atPath: store.debianTarballPath(suite: suite, key: recipe.key, architecture: arch))
            return ("debian \(recipe.key)", !haveTarball && recipe.published != nil)
        case .tarball(let path):
            return ("tarball \(try store.fileDigest(path))", false)
        case .ociLayout(let path, let tag):
            return ("image \(try OCILayout.open(at: path).resolve(tag: tag).manifestDescriptor.digest)", false)
        case .directory(let path), .registry(let path):
            return ("directory \(path)", false)
        }
    }

    /// The rootfs path of the base named `name` from its full base layer in the local cache or, when `--cache-from`
    /// has it, a registry cache (downloaded now, unpacked when a step first needs it); nil when neither has it.
    private func cachedBase(
        _ name: String, store: BaseStore, stage: String, log: @escaping @Sendable (String) -> Void
    ) throws -> String? {
        let key = platformKey(baseKey(name, slim: false))
        let reporting = StepReporting(
            name: "\(stage)/base", timingStage: stage, timingPhase: "base", log: log, cached: {}, finished: { _, _ in })
        guard let entry = cache.lookup(key, log: log) ?? imported(key, reporting: reporting), let layer = entry.layer
        else { return nil }
        let source = LayerSource(
            path: cache.blobs.blobPath(layer.digest), digest: layer.digest, size: layer.size, diffID: layer.diffID)
        let unpackKey = "cached-\(key.prefix(24))"
        let path = store.unpackedPath(key: unpackKey)
        bases.deferUnpack(path) {
            log("unpacking the base from the cache (\(layer.digest))")
            _ = try store.unpacked(layers: [source], label: name, key: unpackKey, log: log)
        }
        return path
    }
}
