import Planner

extension DockerfileExecutor {
    /// The state directory's cache a `RUN --mount=type=cache` uses: named by its `id=`, else its target (BuildKit's
    /// rule), hashed into a directory name.
    static func cacheName(_ mount: DockerfileMount) -> String {
        "df-" + String(CacheKey.of(["cache", mount.id ?? mount.target]).prefix(24))
    }

    /// The registry transfer (docs/cache.md) of the cache mounts of the stages that run, for those `--cache-mounts`
    /// shares (by `id=`, else target, or `all`); nil without a registry cache or a shared mount. Scoped to Dockerfile
    /// builds: as in BuildKit, a cache id means the same cache in every Dockerfile.
    func cacheMountTransfer() -> CacheMountTransfer? {
        guard let session = options.registryCacheSession, !session.options.mounts.isEmpty else { return nil }
        var ids: [String: String] = [:]
        for stage in build.stages {
            for mount in stage.steps.flatMap({ $0.run?.mounts ?? [] }) where mount.type == .cache {
                ids[Self.cacheName(mount)] = mount.id ?? mount.target
            }
        }
        let transfer = CacheMountTransfer(
            session: session, runner: sandbox, sourceDateEpoch: options.sourceDateEpoch, scope: ["dockerfile"],
            entries: ids.sorted { $0.key < $1.key }.map { (name: $0.key, id: $0.value) })
        return transfer.entries.isEmpty ? nil : transfer
    }
}
