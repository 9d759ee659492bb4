import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Where the front ends write the image: the layout, its tag, and the reference reported.
struct ImageDestination: Sendable {
    var layoutPath: String
    var tag: String
    var reference: String
}

/// What producing one step made: the layer (nil: the step changed nothing), the layer's temporary blob file and the
/// directory to keep as an overlay lower for later steps (either may be nil).
typealias StepOutput = (layer: LayerWriteResult?, file: String?, tree: String?)

/// One step's result in a stage: its cache key, the layer (nil when the step changed nothing) and the tree later
/// steps see as an overlay lower.
struct StageLayer {
    var key: String
    var phase: String
    var createdBy: String
    var layer: CachedLayer?
    /// Directory usable as an overlay lower.
    var tree: String?
    var cached: Bool
}

/// What a build records for its report: phases that ran or came from the cache, timings, warnings.
final class BuildRecorder: @unchecked Sendable {
    var executed: [String] = []
    var cached: [String] = []
    var timings: [PhaseTiming] = []
    var warnings: [BuildWarning] = []
    /// Told the path of every temporary layer file written for the step being produced (set by `StageRunner.step`
    /// from `StepReporting.layerFile` while `produce` runs).
    var layerFileObserver: ((String) -> Void)?

    /// Appends what `other` recorded (a part of the build that ran on another thread) after this one's entries.
    func append(_ other: BuildRecorder) {
        executed += other.executed
        cached += other.cached
        timings += other.timings
        warnings += other.warnings
    }
}

/// How a step appears in the report and the progress output: names for the recorder, callbacks for what happens
/// (each front end keeps its own wording or events).
struct StepReporting {
    /// The entry in the report's `executed` / `cached` lists.
    var name: String
    /// `PhaseTiming.stage` / `.phase`.
    var timingStage: String
    var timingPhase: String
    /// The build cache's own messages (rejected entries).
    var log: (String) -> Void
    /// A cache hit.
    var cached: () -> Void
    /// Before `produce` runs.
    var started: () -> Void = {}
    /// After `produce` ran (seconds, the layer if any).
    var finished: (Double, LayerWriteResult?) -> Void
    /// Each temporary layer file written for the step (its growing size is the bytes written so far).
    var layerFile: ((String) -> Void)? = nil
}

/// The engine under both build front ends (`ImageBuilder` for plans, `DockerfileExecutor` for Dockerfiles): opens
/// the build cache for the sandbox, stages inputs into scratch trees written as layers, captures a sandbox phase's
/// diff as a layer, and runs every step through the cache (key → cached layer, or produce + store), recording
/// what ran. The front ends decide the steps, their keys and the image config; blocking: call off the
/// cooperative pool.
struct StageRunner: Sendable {
    let sandbox: any PhaseRunner
    let options: BuildOptions
    let target: ImageDestination
    let cache: BuildCache
    /// Machine-independent names of the base root filesystems this build uses (for cache keys).
    let bases = BaseIdentities()

    /// Prepares the sandbox's state directory and opens the build cache (`options.cacheDirectory`, default
    /// `<state>/build-cache`), which the sandbox's namespace root must be able to reach.
    init(sandbox: any PhaseRunner, options: BuildOptions, target: ImageDestination) throws {
        self.sandbox = sandbox
        self.options = options
        self.target = target
        try sandbox.state.prepare()
        self.cache = try BuildCache(
            directory: options.cacheDirectory ?? sandbox.state.path + "/build-cache", owner: sandbox.identity.cacheKey)
        try cache.requireReachable(by: sandbox.identity)
    }

    var layerOptions: LayerWriteOptions {
        LayerWriteOptions(sourceDateEpoch: options.sourceDateEpoch, idMapping: sandbox.identity.idMapping)
    }

    /// The layout the image is written into (created when missing).
    func targetLayout() throws -> OCILayout {
        OCILayout.isLayout(target.layoutPath)
            ? try OCILayout.open(at: target.layoutPath) : try OCILayout.create(at: target.layoutPath)
    }

    /// Where a phase's output lines go: `.output` events of `step`.
    func phaseOutput(step: String) -> OutputSink {
        let events = options.events
        return .callback { line, isError in events(.output(step: step, line: line, isError: isError)) }
    }

    /// The transport for registry bases: the build's registry options and credentials; transfers reported as messages.
    var transport: ImageTransport {
        let events = options.events
        return ImageTransport(
            options: options.registryOptions, credentials: options.credentials,
            report: { events(.message("[base] \($0)")) })
    }

    /// Pulls the registry image `reference` into the state directory's registry-images layout (`BaseStore.pull`).
    func pullBase(_ reference: String) throws -> (layout: String, tag: String) {
        let events = options.events
        return try BaseStore(state: sandbox.state, identity: sandbox.identity, platform: options.platform)
            .pull(reference, transport: transport, log: { events(.message("[base] \($0)")) })
    }

    /// What `ImageAssembler` reads `created` from (SOURCE_DATE_EPOCH of the build options only).
    func assemblyEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        if let e = options.sourceDateEpoch { env["SOURCE_DATE_EPOCH"] = String(e) }
        return env
    }

    /// Takes `key` from the cache (unless `options.noCache`), else runs `produce` and stores what it made under
    /// `key`. `isCommand`: the step runs commands (listed in `executed` / `cached`). `needsBases`: `produce` reads
    /// a base rootfs, so deferred bases are unpacked first; a step made from the app's files alone (a copy, assets,
    /// a toolchain archive) passes false, so a source-only rebuild from a registry cache unpacks no base.
    func step(
        key: String, phase: String, createdBy: String, reporting: StepReporting, isCommand: Bool, rec: BuildRecorder,
        needsBases: Bool = true, produce: () throws -> StepOutput
    ) throws -> StageLayer {
        let started = Date()
        let key = platformKey(key)
        if let preview = options.keyPreview {
            let local = cache.lookup(key, verify: false)
            preview.add(
                StepCacheKey(
                    stage: reporting.timingStage, phase: reporting.timingPhase, key: key, createdBy: createdBy,
                    cachedLocally: local != nil))
            return StageLayer(
                key: key, phase: phase, createdBy: createdBy, layer: local?.layer ?? CacheKeyPreview.standIn(key),
                tree: nil, cached: local != nil)
        }
        if !options.noCache, let e = cache.lookup(key, log: reporting.log) ?? imported(key, reporting: reporting) {
            noteForExport(e, reporting: reporting)
            if isCommand { rec.cached.append(reporting.name) }
            rec.timings.append(
                PhaseTiming(
                    stage: reporting.timingStage, phase: reporting.timingPhase, status: .cached,
                    seconds: Date().timeIntervalSince(started)))
            reporting.cached()
            return StageLayer(
                key: key, phase: phase, createdBy: createdBy, layer: e.layer,
                tree: e.hasTree ? cache.treePath(key) : nil,
                cached: true)
        }
        if options.noCache { cache.remove(key) }
        if needsBases { try bases.materialize() }
        reporting.started()
        rec.layerFileObserver = reporting.layerFile
        defer { rec.layerFileObserver = nil }
        let (result, file, tree) = try produce()
        let entry = try cache.store(key: key, createdBy: createdBy, layer: result, layerFile: file, tree: tree)
        noteForExport(entry, reporting: reporting)
        if isCommand { rec.executed.append(reporting.name) }
        let s = Date().timeIntervalSince(started)
        rec.timings.append(
            PhaseTiming(
                stage: reporting.timingStage, phase: reporting.timingPhase, status: result == nil ? .empty : .ran,
                seconds: s))
        reporting.finished(s, result)
        return StageLayer(
            key: key, phase: phase, createdBy: createdBy, layer: entry.layer,
            tree: entry.hasTree ? cache.treePath(key) : nil,
            cached: false)
    }

    /// A temporary layer file in the cache's blob store, announced to `rec`'s observer (the step being produced).
    func temporaryLayerFile(_ label: String, rec: BuildRecorder?) -> String {
        let file = cache.blobs.temporaryBlobPath(label: label)
        rec?.layerFileObserver?(file)
        return file
    }

    /// A layer made from a staged tree: `fill` populates a fresh scratch path (creating it), which is written as a
    /// layer and kept as the step's overlay lower; removed when anything fails.
    func stagedLayer(_ label: String, rec: BuildRecorder? = nil, fill: (String) throws -> Void) throws -> StepOutput {
        let staging = cache.scratchPath(label)
        do {
            try fill(staging)
            let file = temporaryLayerFile(label, rec: rec)
            let r = try LayerWriter.write(directory: staging, to: file, options: layerOptions)
            return (r, file, staging)
        } catch {
            removeTree(staging)
            throw error
        }
    }

    /// A sandbox phase's changes (`changes`: the outcome's, possibly filtered) as a layer, its upper directory moved
    /// into the cache's scratch area as the overlay lower (`adjustTree` may prune it). No changes: no layer. The
    /// outcome is discarded either way. `what` names the phase in errors.
    func capture(
        _ outcome: PhaseOutcome, changes: ChangeSet, blobLabel: String, what: String, rec: BuildRecorder? = nil,
        adjustTree: (String) -> Void = { _ in }
    ) throws -> StepOutput {
        if changes.changes.isEmpty {
            outcome.discard()
            return (nil, nil, nil)
        }
        do {
            let file = temporaryLayerFile(blobLabel, rec: rec)
            var lo = layerOptions
            lo.idMapping = outcome.idMapping
            let r = try LayerWriter.write(changes: changes, to: file, options: lo)
            let tree = cache.scratchPath("upper")
            if rename(outcome.upper, tree) != 0
                && !(errno == EXDEV && (try? runHost("/bin/cp", ["-a", outcome.upper, tree]))?.status == 0)
            {
                throw BuildEngineError(
                    .staging, "cannot move \(what)'s changes into the build cache: \(String(cString: strerror(errno)))")
            }
            adjustTree(tree)
            outcome.discard()
            return (r, file, tree)
        } catch {
            outcome.discard()
            throw error
        }
    }

    /// A cached layer as an `ImageAssembler` input (the blob stays in the cache: copied, not moved).
    func layerInput(_ layer: CachedLayer, createdBy: String?) throws -> LayerInput {
        if options.keyPreview != nil { throw CacheKeyPreview.Done() }  // keys-only: every step was seen
        let d = layer.descriptor
        return LayerInput(
            file: cache.blobs.blobPath(d.digest), mediaType: d.mediaType, digest: d.digest, size: d.size,
            diffID: layer.diffID, createdBy: createdBy, consumeFile: false)
    }
}

extension StageRunner {
    /// A step's key as stored: with the target platform (a step for arm64 never reuses an amd64 layer). Every
    /// lookup outside `step` (a cached base, say) goes through this too.
    func platformKey(_ key: String) -> String { CacheKey.of([key, TargetPlatform.keyPart(options)]) }
}
