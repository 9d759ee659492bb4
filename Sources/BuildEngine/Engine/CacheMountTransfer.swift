import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Portable cache mounts (docs/cache.md): a plan's named caches (`caches/<name>` in the state directory: pip, npm,
/// cargo, go, apt archives and lists…) or a Dockerfile's `RUN --mount=type=cache` mounts, exported after a build to the `--cache-to` repositories and imported before
/// a build from `--cache-from` when this machine's copy is empty. Each is one gzip tar (a layer written from the
/// directory, owners as the sandbox's namespace sees them) in an artifact tagged `mount-<name>-<scope>`, the scope
/// being the plan's identity (build image and providers) or `dockerfile`. Never inside an image layer. Opt-in per cache
/// (`RegistryCacheOptions.mounts`), bounded by `mountLimit`; every failure is a warning.
struct CacheMountTransfer {
    let session: RegistryCache
    let state: StateDirectory
    let identity: SandboxIdentity
    let sourceDateEpoch: Int64?
    let scope: String
    /// The shared caches: `name` is the directory under `caches/` (and the tag's name), `id` what `--cache-mounts`
    /// and the messages call it (the plan's cache name; a Dockerfile mount's `id=`, else its target).
    let entries: [(name: String, id: String)]

    static let artifactType: MediaType = "application/vnd.ociforge.cache.mount.v1"

    init(
        session: RegistryCache, runner: any PhaseRunner, sourceDateEpoch: Int64?, scope: [String],
        entries: [(name: String, id: String)]
    ) {
        self.session = session
        self.state = runner.state
        self.identity = runner.identity
        self.sourceDateEpoch = sourceDateEpoch
        self.scope = String(CacheKey.of(["cache-mounts"] + scope).prefix(16))
        self.entries = entries.filter { session.options.sharesMount($0.id) || session.options.sharesMount($0.name) }
    }

    /// A plan's caches (and the apt caches of its phases), scoped by the plan's build image and providers.
    init(session: RegistryCache, runner: any PhaseRunner, plan: ResolvedPlan, sourceDateEpoch: Int64?) {
        let names = (Array(plan.caches.keys) + ImageBuilder.aptCaches.map(\.name)).sorted()
        self.init(
            session: session, runner: runner, sourceDateEpoch: sourceDateEpoch,
            scope: [plan.buildImage] + plan.providers.sorted(), entries: names.map { ($0, $0) })
    }

    func tag(_ name: String) -> String {
        let safe = String(name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.prefix(60))
        return "mount-\(safe)-\(scope)"
    }

    func directory(_ name: String) -> String { state.caches + "/" + name }

    /// Imports each shared cache that is missing or empty here from the first repository that has it.
    func importAll() {
        for (name, id) in entries where isEmpty(directory(name)) {
            for ref in session.options.importFrom {
                let source = "\(ref.registry)/\(ref.repository):\(tag(name))"
                do {
                    if try importOne(name, id: id, from: ref, source: source) { break }
                } catch {
                    session.warn("cache mount \(id) from \(source) is unusable, it starts empty", cause: error)
                }
            }
        }
    }

    private func importOne(_ name: String, id: String, from ref: ImageReference, source: String) throws -> Bool {
        try state.prepare()
        let label = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let file = state.caches + "/.mount-\(label).tar.gz", tree = state.caches + "/.mount-\(label)"
        defer {
            unlink(file)
            removeTree(tree)
        }
        let t = tag(name)
        let layer: Descriptor? = try blocking {
            let c = try await session.transport.client(ref.registry)
            let m: RegistryClient.FetchedManifest
            do { m = try await c.fetchManifest(repository: ref.repository, reference: t) } catch let e
                as OCIWriterError where e.code == .notFound
            { return nil }
            let manifest = try CanonicalJSON.decode(Manifest.self, from: m.bytes, source: source)
            guard manifest.artifactType == Self.artifactType, manifest.layers.count == 1 else {
                throw BuildEngineError(.cache, "\(source) is not an ociforge cache mount")
            }
            try await c.downloadBlob(repository: ref.repository, descriptor: manifest.layers[0], to: file)
            return manifest.layers[0]
        }
        guard let layer else { return false }
        _ = try LayerExtractor.unpack(
            layers: [LayerSource(path: file, digest: layer.digest, size: layer.size)], to: tree,
            options: LayerExtractionOptions(
                limits: state.extractionLimits, ownership: BaseStore.ownership(for: identity), devices: .skip))
        chmod(tree, 0o755)
        try identity.giveToNamespaceRoot([tree])
        rmdir(directory(name))
        guard rename(tree, directory(name)) == 0 else {
            throw BuildEngineError(.cache, "cannot move \(tree) to \(directory(name))", cause: BuildCache.systemError())
        }
        session.notice("cache mount \(id): imported from \(source) (\(BuildFormat.bytes(layer.size)))")
        return true
    }

    /// Exports each shared, non-empty cache within the size limit to every `exportTo` repository.
    func exportAll() {
        guard !session.options.exportTo.isEmpty else { return }
        for (name, id) in entries where !isEmpty(directory(name)) {
            let size = Self.treeSize(directory(name))
            guard size <= session.options.mountLimit else {
                session.warn(
                    "cache mount \(id) (\(BuildFormat.bytes(size))) is larger than the limit \(BuildFormat.bytes(session.options.mountLimit)): not exported"
                )
                continue
            }
            do { try exportOne(name, id: id) } catch {
                session.warn("cache mount \(id) was not exported", cause: error)
            }
        }
    }

    private func exportOne(_ name: String, id: String) throws {
        let file = state.caches + "/.mount-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tar.gz"
        defer { unlink(file) }
        let layer = try LayerWriter.write(
            directory: directory(name), to: file,
            options: LayerWriteOptions(sourceDateEpoch: sourceDateEpoch, idMapping: identity.idMapping))
        var m = Manifest(
            config: Descriptor.emptyJSON, layers: [layer.descriptor], annotations: ["dev.ociforge.cache.mount": id])
        m.artifactType = Self.artifactType
        let bytes = try CanonicalJSON.encode(m)
        let empty = session.temporaryFileWith(Descriptor.emptyJSONBytes)
        defer { unlink(empty) }
        let t = tag(name)
        for ref in session.options.exportTo {
            try blocking {
                let c = try await session.transport.client(ref.registry)
                _ = try await c.pushBlob(repository: ref.repository, descriptor: layer.descriptor, file: file)
                _ = try await c.pushBlob(repository: ref.repository, descriptor: Descriptor.emptyJSON, file: empty)
                try await c.putManifest(repository: ref.repository, reference: t, bytes: bytes, mediaType: .ociManifest)
            }
            session.notice(
                "cache mount \(id): exported to \(ref.registry)/\(ref.repository):\(t) (\(BuildFormat.bytes(layer.size)))"
            )
        }
    }

    func isEmpty(_ dir: String) -> Bool { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).isEmpty }

    /// Bytes of the regular files under `dir`.
    static func treeSize(_ dir: String) -> Int64 {
        var total: Int64 = 0
        let e = FileManager.default.enumerator(atPath: dir)
        while let rel = e?.nextObject() as? String {
            var st = stat()
            if lstat(dir + "/" + rel, &st) == 0, st.st_mode & S_IFMT == S_IFREG { total += Int64(st.st_size) }
        }
        return total
    }
}
