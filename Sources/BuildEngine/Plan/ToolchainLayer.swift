import Foundation
import Planner
import Sandbox
import Toolchains

#if canImport(Glibc)
    import Glibc
#endif

/// One upstream toolchain installed in a stage: its layer and the PATH entries and variables it needs.
struct ToolchainLayer {
    var item: StageLayer
    var environment: ToolchainEnvironment
}

extension ImageBuilder {
    /// The pinned upstream toolchains `stage` needs, as installable pins: every one in the build stage; in the
    /// runtime stage the full toolchain (`runtime: full`), its runtime build (`runtimeOnly`: the JRE, the ASP.NET
    /// Core runtime; the full one when the channel publishes none), nothing for `none`.
    func toolchainPins(stage: String) throws -> [Toolchains.ToolchainPin] {
        var out: [Toolchains.ToolchainPin] = []
        for (i, t) in plan.toolchains.enumerated() where t.source == .upstream {
            let field = "toolchains[\(i)].upstream"
            guard let up = t.upstream, let pin = up.pin, let kind = ToolKind(rawValue: t.name) else {
                throw BuildEngineError(
                    .invalidInput, "\(field): \(t.name) is not pinned (the engine resolves pins before building)")
            }
            switch (stage, up.runtime) {
            case ("build", _), ("runtime", .full):
                out.append(try .init(plan: pin, tool: kind, flavor: .full, field: field + ".pin"))
            case ("runtime", .runtimeOnly):
                out.append(
                    try up.runtimePin.map {
                        try .init(plan: $0, tool: kind, flavor: .runtime, field: field + ".runtimePin")
                    }
                        ?? .init(plan: pin, tool: kind, flavor: .full, field: field + ".pin"))
            default: continue
            }
        }
        return out
    }

    /// The layers of `stage`'s upstream toolchains, stacked on `parent`.
    func toolchainLayers(stage: String, parent: Item, rec: Recorder) throws -> [ToolchainLayer] {
        var out: [ToolchainLayer] = []
        var top = parent
        for pin in try toolchainPins(stage: stage) {
            let layer = try toolchainItem(pin, stage: stage, parent: top, rec: rec)
            out.append(layer)
            top = layer.item
        }
        return out
    }

    /// One toolchain as a layer under /opt/ociforge/toolchains, cached by its pin's `layerKey` alone (with the
    /// layer format and SOURCE_DATE_EPOCH; the cache records which id mapping owns the tree): the same toolchain
    /// in another stage, app or build is a cache hit — no download, no unpacking. Its stack key still chains on
    /// `parent` for the steps above it.
    func toolchainItem(_ pin: Toolchains.ToolchainPin, stage: String, parent: Item, rec: Recorder) throws
        -> ToolchainLayer
    {
        let prefix = ToolchainPrefix.path(pin.tool, flavor: pin.flavor, version: pin.version)
        let key = CacheKey.of([
            "toolchain", pin.layerKey.string, CacheKey.layerFormat(layerOptions),
            options.sourceDateEpoch.map(String.init) ?? ""
        ])
        let name = pin.tool.rawValue + (pin.flavor == .runtime ? "-runtime" : "")
        let settings = try options.toolchains.channelSettings(for: plan)
        let state = options.toolchains.stateDirectory ?? sandbox.state.path
        var item = try cachedOrBuilt(
            key: key, stage: stage, phase: "toolchain-\(name)",
            createdBy: "ociforge toolchain \(name) \(pin.version) (\(pin.digest?.string ?? "")) → \(prefix)", rec: rec,
            isCommand: false, detail: "installing \(name) \(pin.version)", needsBases: false
        ) {
            try runner.stagedLayer("toolchain", rec: rec) { staging in
                let installer = ToolchainInstaller(
                    channels: ToolchainChannels(settings: settings), stateDirectory: state)
                let result: Result<StagedToolchain, ToolchainError> = blockingResult {
                    do throws(ToolchainError) { return .success(try await installer.install(pin, into: staging)) } catch
                    {
                        return .failure(error)
                    }
                }
                do { _ = try result.get() } catch {
                    throw BuildEngineError(.toolchain, "cannot install \(name) \(pin.version)", cause: error)
                }
                try Self.setTimes(staging, to: options.sourceDateEpoch ?? 0)
                try chownToNamespaceRoot(staging)
            }
        }
        item.key = CacheKey.of(["toolchain-on", parent.key, key])
        return ToolchainLayer(item: item, environment: .forTool(pin.tool, prefix: prefix))
    }

    /// Every entry's access and modification time set to `epoch` (unpacked trees carry the unpack time): the
    /// layer depends only on the archives' bytes.
    static func setTimes(_ root: String, to epoch: Int64) throws {
        var times = [timespec(tv_sec: Int(epoch), tv_nsec: 0), timespec(tv_sec: Int(epoch), tv_nsec: 0)]
        var paths = [root]
        if let e = FileManager.default.enumerator(atPath: root) {
            while let rel = e.nextObject() as? String { paths.append(root + "/" + rel) }
        }
        for p in paths where utimensat(AT_FDCWD, p, &times, AT_SYMLINK_NOFOLLOW) != 0 {
            throw BuildEngineError(.staging, "cannot set the times of \(p): \(String(cString: strerror(errno)))")
        }
    }
}
