import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner

extension RegistryCacheMode: ExpressibleByArgument {}

/// `--cache-to` / `--cache-from` / `--cache-mode`: the registry caches of a build (docs/cache.md). Each setting is
/// taken from the flags, else `OCIFORGE_CACHE_TO` / `OCIFORGE_CACHE_FROM` (comma-separated) / `OCIFORGE_CACHE_MODE`,
/// else `[build] cache-to` / `cache-from` / `cache-mode` of ociforge.toml.
struct CacheFlags: ParsableArguments {
    @Option(
        name: .customLong("cache-to"),
        help:
            "Registry repository to write the build's cached steps to (e.g. registry.example/team/app-cache). Repeatable."
    )
    var cacheTo: [String] = []

    @Option(
        name: .customLong("cache-from"),
        help: "Registry repository to take cached steps from when the local cache misses. Repeatable.")
    var cacheFrom: [String] = []

    @Option(
        name: .customLong("cache-mode"),
        help: "What --cache-to writes: max (every step, default) or min (the final image's layers and the bases).")
    var cacheMode: RegistryCacheMode?

    @Option(
        name: .customLong("cache-mounts"),
        help:
            "Cache mounts shared through the cache repositories: plan cache names (pip, apt-cache, …), Dockerfile cache mount ids (else targets), or all; comma-separated, repeatable (default: none, or $OCIFORGE_CACHE_MOUNTS)."
    )
    var cacheMounts: [String] = []

    @Option(name: .customLong("cache-mount-limit"), help: "Largest cache mount exported (default 1G).")
    var cacheMountLimit: ByteCount?

    /// The settings as engine options (`config`: the `[build]` block of ociforge.toml, if any).
    func options(config: BuildBlock?, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> RegistryCacheOptions
    {
        func list(_ flags: [String], _ variable: String, _ configured: [String]?) -> [String] {
            if !flags.isEmpty { return flags }
            if let v = environment[variable], !v.isEmpty {
                return v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            return configured ?? []
        }
        let modeText = cacheMode?.rawValue ?? environment["OCIFORGE_CACHE_MODE"] ?? config?.cacheMode
        guard let mode = RegistryCacheMode(rawValue: modeText ?? "max") else {
            throw ValidationError(
                "cache mode '\(modeText ?? "")' is neither min nor max (--cache-mode, OCIFORGE_CACHE_MODE)")
        }
        return RegistryCacheOptions(
            exportTo: try list(cacheTo, "OCIFORGE_CACHE_TO", config?.cacheTo).map(Self.repository),
            importFrom: try list(cacheFrom, "OCIFORGE_CACHE_FROM", config?.cacheFrom).map(Self.repository),
            mode: mode,
            mounts: list(
                cacheMounts.flatMap { $0.split(separator: ",").map(String.init) }, "OCIFORGE_CACHE_MOUNTS", nil),
            mountLimit: cacheMountLimit.map { Int64($0.bytes) } ?? 1 << 30)
    }

    /// A cache repository reference (`docker://` accepted; a tag or digest is refused: entries are tagged by key).
    static func repository(_ s: String) throws -> ImageReference {
        let text = s.hasPrefix("docker://") ? String(s.dropFirst(9)) : s
        let ref: ImageReference
        do { ref = try ImageReference(parsing: text) } catch {
            throw ValidationError("cache repository '\(s)' is not a registry reference: \(error)")
        }
        let namesTag = text.split(separator: "/").last?.contains(":") == true
        guard ref.digest == nil, !namesTag, text.split(separator: "/").count > 1 else {
            throw ValidationError(
                "cache repository '\(s)' must be host/repository without a tag or digest (entries are tagged by their keys)"
            )
        }
        return ref
    }
}
