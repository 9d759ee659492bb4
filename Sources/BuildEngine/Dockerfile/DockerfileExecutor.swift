import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Executes a `ResolvedDockerfile` on ociforge's own engine: RUN steps in the `Sandbox` (overlay phases), COPY/ADD
/// and WORKDIR as staged trees written by `LayerWriter`, every filesystem-changing step one layer cached in the
/// `BuildCache` under a key of its parent and its inputs (the same cache `ImageBuilder` uses), config-only steps
/// empty-layer history entries, and the image written into an OCI layout. Only the stages the target needs (the
/// resolved stages) run. Blocking: call it off the cooperative pool.
public struct DockerfileExecutor: Sendable {
    public private(set) var build: ResolvedDockerfile
    public let contextDirectory: String
    public let options: BuildOptions
    public let sandbox: any PhaseRunner
    public let cache: BuildCache
    /// The engine shared with `ImageBuilder`: cache, staging, phase capture.
    let runner: StageRunner
    /// The images COPY --from / RUN --mount=from named, as resolved (for the provenance).
    let imageSources = ImageSourceLog()

    init(
        build: ResolvedDockerfile, contextDirectory: String, options: BuildOptions, target: ImageDestination,
        sandbox: any PhaseRunner
    ) throws {
        self.build = build
        self.contextDirectory = URL(fileURLWithPath: contextDirectory).standardizedFileURL.path
        self.options = options
        self.sandbox = sandbox
        self.runner = try StageRunner(sandbox: sandbox, options: options, target: target)
        self.cache = runner.cache
    }

    /// A layer of a stage: where its blob is and the tree later steps see as an overlay lower.
    struct Layer {
        var descriptor: Descriptor
        var diffID: Digest
        /// nil: a base image layer (its blob is in `source`); else the build cache's blob store.
        var source: OCILayout
        var tree: String?
        /// For the report (nil for base image layers).
        var built: BuiltLayer?
    }

    /// A stage being built (or done): rootfs, layers, history, cache key and config so far (the resolver's view
    /// of a stage is Planner's `ResolverStage`).
    struct StageBuild {
        var rootfs: String
        /// The chain's bottom image config (nil for scratch).
        var rootConfig: ImageConfig?
        var platform: Platform
        /// Base image layers (never overlay lowers: `rootfs` holds them unpacked), then the steps' layers.
        var layers: [Layer]
        var history: [History]
        var key: String
        /// Overlay lowers above `rootfs`, bottom first.
        var trees: [String] { layers.compactMap(\.tree) }
        /// The config in effect (base config + deltas so far) for user and workdir lookups.
        var dockerConfig: DockerfileImageConfig
        /// The chain's bottom image (nil for scratch): the `ImageAssembler` base of a final image, and how many of
        /// `layers` / `history` entries are its own.
        var baseImage: BaseImage? = nil
    }

    struct BaseImage {
        var layout: OCILayout
        var tag: String?
        /// The manifest digest (for the host platform) the stage started from.
        var manifestDigest: Digest
        var layerCount: Int
        var historyCount: Int
    }

    typealias Recorder = BuildRecorder

    // MARK: - Build

    /// Builds the image; the shared cache mounts are imported from the registry cache first and exported after.
    public func run() throws -> BuildReport {
        let mounts = cacheMountTransfer()
        mounts?.importAll()
        let report = try buildImage()
        mounts?.exportAll()
        return report
    }

    func buildImage() throws -> BuildReport {
        let started = Date()
        try TargetPlatform.requireRunnable(options.platform)
        let rec = Recorder()
        rec.warnings += build.warnings.map { BuildWarning(.dockerfile, $0) }
        var done: [Int: StageBuild] = [:]
        for stage in build.stages {
            var state = try start(stage, done: done)
            let label = "stage \(stage.name ?? String(stage.index))"
            options.emit(.message("[\(label)] FROM \(describe(stage.base))"))
            for step in stage.steps {
                try execute(step, stage: stage, label: label, state: &state, done: done, rec: rec)
            }
            done[stage.index] = state
        }
        let final = build.finalStage
        guard let state = done[final.index] else {
            throw BuildEngineError(.invalidInput, "the target stage did not run")
        }

        // Image: the chain's base image, every layer of the stage chain with the history (config-only steps as
        // empty_layer entries), the final config as changes over the base's.
        let layout = try runner.targetLayout()
        let tag = runner.target.tag
        let root = state.rootConfig.map(DockerfileImageConfig.init(base:))
        guard let dc = build.config(ofStage: final.index, root: root) else {
            throw BuildEngineError(.image, "cannot compute the config of stage \(final.index)")
        }
        let created = try ImageAssembler.createdTimestamp(environment: assemblyEnvironment())
        var annotations: [String: String] = [
            "org.opencontainers.image.created": created, "org.opencontainers.image.ref.name": tag
        ]
        if case .layout? = Optional(final.base.kind), let ref = final.base.reference {
            annotations["org.opencontainers.image.base.name"] = ref
        }
        var changes = try dc.configChanges(over: state.rootConfig?.config)
        changes.annotations = annotations
        changes.created = created
        changes.author = dc.author
        let own = state.layers.dropFirst(state.baseImage?.layerCount ?? 0)
        let inputs = own.map { l in
            LayerInput(
                file: l.source.blobPath(l.descriptor.digest), mediaType: l.descriptor.mediaType,
                digest: l.descriptor.digest,
                size: l.descriptor.size, diffID: l.diffID, consumeFile: false)
        }
        let base: AssemblyBase =
            state.baseImage.map { .layout($0.layout, tag: $0.tag, platform: TargetPlatform.of(options)) }
            ?? .scratch(platform: state.platform)
        var assembler = ImageAssembler(
            base: base, layers: Array(inputs), changes: changes, destination: layout, tag: tag,
            environment: assemblyEnvironment())
        assembler.history = Array(state.history.dropFirst(state.baseImage?.historyCount ?? 0))
        assembler.annotateBaseDigest = false
        let image = try assembler.assemble()
        let manifestDesc = image.manifestDescriptor, configDesc = image.configDescriptor

        let imageLayers = state.layers.compactMap(\.built)
        return BuildReport(
            reference: runner.target.reference, layout: layout.path, tag: tag,
            manifestDigest: manifestDesc.digest, configDigest: configDesc.digest,
            output: ImageLocation.ociLayout(path: layout.path, tag: tag).description, deliveredDigest: nil,
            layers: imageLayers, imageSize: state.layers.reduce(0) { $0 + $1.descriptor.size },
            // base layers' uncompressed sizes are not known without reading them
            imageUncompressedSize: imageLayers.reduce(0) { $0 + $1.uncompressedSize },
            buildStageSize: 0, buildStageUncompressedSize: 0,
            executed: rec.executed, cached: rec.cached, timings: rec.timings,
            totalSeconds: Date().timeIntervalSince(started), annotations: annotations, warnings: rec.warnings,
            bases: baseRecords(done))
    }

    /// The image each kept stage started from (FROM an image or layout), by the reference its FROM line names, then
    /// the images COPY --from / RUN --mount=from used.
    func baseRecords(_ done: [Int: StageBuild]) -> [BaseImageRecord] {
        build.stages.compactMap { stage in
            guard let base = done[stage.index]?.baseImage, let ref = stage.base.reference,
                stage.base.kind == .image || stage.base.kind == .layout
            else { return nil }
            return BaseImageRecord(stage: stage.name ?? String(stage.index), name: ref, digest: base.manifestDigest)
        } + imageSources.all
    }

    func describe(_ base: DockerfileBase) -> String {
        switch base.kind {
        case .scratch: return "scratch"
        case .stage: return "stage \(base.stage ?? -1)"
        case .image, .layout: return base.reference ?? "?"
        }
    }

    // MARK: - Stage bases

    func start(_ stage: DockerfileStage, done: [Int: StageBuild]) throws -> StageBuild {
        switch stage.base.kind {
        case .scratch:
            let root = try scratchRootfs()
            return StageBuild(
                rootfs: root, rootConfig: nil, platform: TargetPlatform.of(options), layers: [], history: [],
                key: CacheKey.of(["df-scratch", CacheKey.layerFormat(layerOptions)]),
                dockerConfig: DockerfileImageConfig.scratch.applying(DockerfileConfigDelta()))
        case .stage:
            guard let i = stage.base.stage, let s = done[i] else {
                throw BuildEngineError(
                    .invalidInput, "line \(stage.line): FROM names stage \(stage.base.stage ?? -1), which did not run")
            }
            var copy = s
            copy.dockerConfig =
                build.config(ofStage: i, root: s.rootConfig.map(DockerfileImageConfig.init(base:))) ?? s.dockerConfig
            return copy
        case .layout:
            let ref = stage.base.reference ?? ""
            return try layoutBase(ref, line: stage.line)
        case .image:
            return try imageBase(stage.base.reference ?? "", line: stage.line, instruction: "FROM")
        }
    }

    /// An image named by FROM or COPY --from: an OCI layout (`oci-layout:`/`oci:`) or a registry image, pulled by
    /// `BaseStore.pull` into the state dir's registry-images layout (stored credentials, plain HTTP for loopback hosts and
    /// `options.registryOptions.insecureRegistries`). With `use` (COPY --from, RUN --mount=from) the resolved image is
    /// recorded in `imageSources` for the provenance.
    func imageBase(_ ref: String, line: Int, instruction: String, use: BaseImageRecord.Use? = nil) throws
        -> StageBuild
    {
        let base: StageBuild
        if ref.hasPrefix("oci-layout:") || ref.hasPrefix("oci:") {
            base = try layoutBase(ref, line: line)
        } else {
            let pulled: (layout: String, tag: String)
            do {
                pulled = try runner.pullBase(ref)
            } catch {
                throw Self.pullFailure(ref, line: line, instruction: instruction, cause: error)
            }
            base = try layoutBase("oci-layout:\(pulled.layout):\(pulled.tag)", line: line)
        }
        if let use, let digest = base.baseImage?.manifestDigest {
            imageSources.record(BaseImageRecord(stage: "line \(line)", name: ref, digest: digest, use: use))
        }
        return base
    }

    /// A registry base that could not be pulled: what names it, the workaround, and why (the transport's error).
    static func pullFailure(_ ref: String, line: Int, instruction: String, cause: any Error) -> BuildEngineError {
        BuildEngineError(
            .base,
            "line \(line): \(instruction) \(ref): cannot pull it (without registry access, put the image into an OCI "
                + "layout, `skopeo copy docker://\(ref) oci:<dir>:<tag>`, and name it as oci-layout:<dir>:<tag>, e.g. through a "
                + "build arg: --build-arg NAME=oci-layout:<dir>:<tag>)", cause: cause)
    }

    func layoutBase(_ ref: String, line: Int) throws -> StageBuild {
        var r = ref
        if r.hasPrefix("oci:") { r = "oci-layout:" + r.dropFirst(4) }
        let source: BaseSource
        do { source = try BaseSource.parse(r) } catch {
            throw BuildEngineError(.base, "line \(line): FROM \(ref)", cause: error)
        }
        guard case .ociLayout(let path, let tag) = source else {
            throw BuildEngineError(.base, "line \(line): FROM \(ref): not an OCI layout reference")
        }
        let layout = try OCILayout.open(at: path)
        let resolved = try layout.resolve(tag: tag, platform: TargetPlatform.of(options))
        let events = options.events
        let rootfs = try BaseStore(state: sandbox.state, identity: sandbox.identity, platform: options.platform).rootfs(
            for: source, log: { events(.message("[base] \($0)")) })
        let config = resolved.config.value
        let manifest = resolved.manifest.value
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw BuildEngineError(
                .base,
                "FROM \(ref): the image has \(manifest.layers.count) layers but its config lists \(config.rootfs.diffIDs.count) diff_ids"
            )
        }
        var layers: [Layer] = []
        for (d, diff) in zip(manifest.layers, config.rootfs.diffIDs) {
            layers.append(Layer(descriptor: Self.ociLayerDescriptor(d), diffID: diff, source: layout, tree: nil))
        }
        var history = config.history ?? []
        if history.isEmpty {
            history = manifest.layers.map { _ in History(comment: "history not recorded in the base image") }
        }
        return StageBuild(
            rootfs: rootfs, rootConfig: config, platform: config.platform, layers: layers, history: history,
            key: CacheKey.of([
                "df-image", resolved.manifestDescriptor.digest.description, CacheKey.layerFormat(layerOptions)
            ]),
            dockerConfig: DockerfileImageConfig(base: config),
            baseImage: BaseImage(
                layout: layout, tag: tag, manifestDigest: resolved.manifestDescriptor.digest, layerCount: layers.count,
                historyCount: history.count))
    }

    /// This executor for the Dockerfile evaluated against its bases' configs, as Docker evaluates it: when a stage's
    /// base image (layout or registry) has a config, `resolve` (the front end with `DockerfileOptions.baseImages`)
    /// runs again with them; otherwise `self`. Same context, options and engine.
    public func evaluatingBases(_ resolve: ([String: DockerfileImageConfig]) throws -> ResolvedDockerfile) throws
        -> DockerfileExecutor
    {
        let configs = try baseImageConfigs()
        guard !configs.isEmpty else { return self }
        var evaluated = self
        evaluated.build = try resolve(configs)
        return evaluated
    }

    /// The configs of the stages' base images (OCI layouts, registry images pulled as `run()` pulls them), keyed by
    /// the reference as the front end wrote it: `DockerfileOptions.baseImages` for a second resolve, so that what
    /// the base defines takes part as in Docker (`ENV PATH=/x:$PATH`, a relative WORKDIR, its ONBUILD triggers). A
    /// base without PATH gets Docker's default PATH.
    public func baseImageConfigs() throws -> [String: DockerfileImageConfig] {
        var out: [String: DockerfileImageConfig] = [:]
        for stage in build.stages where stage.base.kind == .layout || stage.base.kind == .image {
            guard let ref = stage.base.reference, out[ref] == nil else { continue }
            var r = ref
            if !(r.hasPrefix("oci-layout:") || r.hasPrefix("oci:")) {
                do {
                    let pulled = try runner.pullBase(ref)
                    r = "oci-layout:\(pulled.layout):\(pulled.tag)"
                } catch {
                    throw Self.pullFailure(ref, line: stage.line, instruction: "FROM", cause: error)
                }
            }
            if r.hasPrefix("oci:") { r = "oci-layout:" + r.dropFirst(4) }
            let source: BaseSource
            do { source = try BaseSource.parse(r) } catch {
                throw BuildEngineError(.base, "line \(stage.line): FROM \(ref)", cause: error)
            }
            guard case .ociLayout(let path, let tag) = source else {
                throw BuildEngineError(.base, "line \(stage.line): FROM \(ref): not an OCI layout reference")
            }
            let config = try OCILayout.open(at: path).resolve(tag: tag, platform: TargetPlatform.of(options)).config
                .value
            out[ref] = DockerfileImageConfig(base: config)
        }
        return out
    }

    /// An empty directory owned by the namespace's root: the rootfs of `FROM scratch`.
    func scratchRootfs() throws -> String {
        let dir = cache.directory + "/scratch-rootfs"
        if makeDirectory(dir, 0o755) != 0 && errno != EEXIST {
            throw BuildEngineError(.staging, "cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        try chownTree(dir, uid: 0, gid: 0)
        return dir
    }

    /// Docker layer media types as their OCI equivalents (the image is written as OCI).
    static func ociLayerDescriptor(_ d: Descriptor) -> Descriptor {
        var d = d
        if d.mediaType == .dockerLayerGzip { d.mediaType = .ociLayerGzip }
        return d
    }

    // MARK: - Steps

    func execute(
        _ step: DockerfileStep, stage: DockerfileStage, label: String, state: inout StageBuild,
        done: [Int: StageBuild], rec: Recorder
    ) throws {
        let created = try ImageAssembler.createdTimestamp(environment: assemblyEnvironment())
        let phase = "\(label) line \(step.line)"
        let current = state
        switch step.kind {
        case .config:
            if let delta = step.config { state.dockerConfig = state.dockerConfig.applying(delta) }
            state.history.append(History(created: created, createdBy: step.instruction, emptyLayer: true))
            state.key = CacheKey.of(["df-config", state.key, step.instruction])
            return
        case .run:
            guard let run = step.run else {
                throw BuildEngineError(.invalidInput, "line \(step.line): RUN without a command")
            }
            let key = try runKey(run, line: step.line, state: state, done: done)
            try add(key: key, step: step, phase: phase, isCommand: true, state: &state, rec: rec, created: created) {
                try runStep(run, step: step, phase: phase, state: current, done: done, rec: rec)
            }
        case .copy, .add:
            guard let copy = step.copy else {
                throw BuildEngineError(
                    .invalidInput, "line \(step.line): \(step.kind.rawValue.uppercased()) without sources")
            }
            let key = try copyPlan(copy, step: step, state: state, done: done)
            try add(key: key, step: step, phase: phase, isCommand: false, state: &state, rec: rec, created: created) {
                try copyStep(copy, step: step, state: current, done: done)
            }
        case .workdir:
            guard let dir = step.workdir else {
                throw BuildEngineError(.invalidInput, "line \(step.line): WORKDIR without a path")
            }
            let user = step.user ?? state.dockerConfig.user
            let key = CacheKey.of(["df-workdir", state.key, dir, user ?? ""])
            try add(key: key, step: step, phase: phase, isCommand: false, state: &state, rec: rec, created: created) {
                try workdirStep(dir, user: user, state: current)
            }
            state.dockerConfig.workingDir = dir
        }
    }

    /// Takes the step's layer from the cache or produces it; appends the layer (if any) and the history entry.
    func add(
        key: String, step: DockerfileStep, phase: String, isCommand: Bool, state: inout StageBuild, rec: Recorder,
        created: String, produce: () throws -> StepOutput
    ) throws {
        let options = self.options
        let kind = step.kind.rawValue.uppercased()
        let reporting = StepReporting(
            name: phase, timingStage: phase, timingPhase: step.instruction,
            log: { options.emit(.notice("[\(phase)] \($0)")) },
            cached: { options.emit(.cached(step: phase)) },
            started: {
                options.emit(.started(step: phase, detail: kind == "RUN" ? "running" : "writing the \(kind) layer"))
            },
            finished: { s, r in
                options.emit(
                    .finished(step: phase, seconds: s, layerSize: r?.size, uncompressedSize: r?.uncompressedSize))
            },
            layerFile: { options.emit(.writingLayer(step: phase, file: $0)) })
        let result = try runner.step(
            key: key, phase: phase, createdBy: step.instruction, reporting: reporting, isCommand: isCommand, rec: rec,
            produce: produce)
        state.key = key
        if let l = result.layer {
            let d = l.descriptor
            state.layers.append(
                Layer(
                    descriptor: d, diffID: l.diffID, source: cache.blobs, tree: result.tree,
                    built: BuiltLayer(
                        stage: phase, phase: step.kind.rawValue, createdBy: step.instruction, digest: l.digest,
                        diffID: l.diffID, size: l.size, uncompressedSize: l.uncompressedSize, cached: result.cached)))
            state.history.append(History(created: created, createdBy: step.instruction))
        } else {
            state.history.append(History(created: created, createdBy: step.instruction, emptyLayer: true))
        }
    }

    var layerOptions: LayerWriteOptions { runner.layerOptions }

    func assemblyEnvironment() -> [String: String] { runner.assemblyEnvironment() }

    // MARK: - RUN

    func runKey(_ run: DockerfileRun, line: Int, state: StageBuild, done: [Int: StageBuild]) throws -> String {
        var parts = ["df-run", state.key, run.form.rawValue, "--argv"] + run.argv
        parts += ["--env"] + run.environment(root: state.rootConfig.map(DockerfileImageConfig.init(base:)))
        parts += [
            "--user", run.user ?? "", "--workdir", run.workdir ?? state.dockerConfig.workingDir ?? "/", "--network",
            run.network.rawValue
        ]
        for m in run.mounts {
            parts += [
                "--mount", m.type.rawValue, m.target, m.id ?? "", m.source ?? "", m.env ?? "", String(m.readOnly),
                m.mode ?? "", m.uid.map(String.init) ?? "", m.gid.map(String.init) ?? "", m.size.map(String.init) ?? "",
                String(m.required)
            ]
            if m.type == .bind {
                if let s = m.from?.stage {
                    parts.append("stage:" + (done[s]?.key ?? "?"))
                } else if let image = m.from?.image {
                    parts.append(
                        "image:"
                            + (try imageBase(
                                image, line: line, instruction: "RUN --mount=type=bind,from=", use: .mountFrom
                            ).key))
                } else {
                    parts.append("context:" + (try contextDigest(m.source ?? ".")))
                }
            }
        }
        for f in run.files { parts += ["--file", f.destination, f.mode, f.content] }
        // --ca-bundle: its variables take part (the bundle's content does not, as for a secret's).
        if options.caBundle != nil { parts += ["--ca-bundle"] + CABundle.variables }
        return CacheKey.of(parts)
    }

    func runStep(
        _ run: DockerfileRun, step: DockerfileStep, phase: String, state: StageBuild, done: [Int: StageBuild],
        rec: Recorder
    ) throws -> StepOutput {
        var env: [String: String] = [:]
        for kv in run.environment(root: state.rootConfig.map(DockerfileImageConfig.init(base:))) {
            let p = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(p[0])] = p.count > 1 ? String(p[1]) : ""
        }
        let userSpec = run.user ?? state.dockerConfig.user ?? ""
        // The user, and the tmpfs/secret targets with the stage's symlinks resolved in it (as BuildKit resolves
        // mount targets: `/var/run/x` on Debian is `/run/x`), so the per-step lower never shadows a symlink.
        let fileTargets = run.mounts.filter {
            $0.type == .tmpfs || ($0.type == .secret && !($0.target.isEmpty && $0.env != nil))
        }
        .map { $0.target.isEmpty ? "/run/secrets/" + ($0.id ?? "") : $0.target }
        let (ids, inRoot) = try withMergedView(state) { root in
            (
                try Self.resolveUser(userSpec, root: root, line: step.line),
                Dictionary(
                    fileTargets.map { ($0, Self.resolveInRoot($0, root: root)) }, uniquingKeysWith: { a, _ in a })
            )
        }
        if env["HOME"] == nil { env["HOME"] = ids.home }
        let workdir = run.workdir ?? state.dockerConfig.workingDir ?? "/"
        var spec = PhaseSpec(name: "line-\(step.line)", command: run.argv)
        spec.uid = ids.uid
        spec.gid = ids.gid
        spec.workingDirectory = workdir
        switch run.network {
        case .default: spec.network = options.network
        case .none: spec.network = .none
        case .host: spec.network = .host
        }
        var extraDirs: [String] = [workdir]
        var binds: [(target: String, source: String)] = []
        // Mount points whose contents are never the step's output: tmpfs and secret targets (secret stubs are
        // empty files in the per-step lower, like BuildKit's mount stubs, which it removes afterwards).
        var mountTargets: [String] = []
        var stubs: [String] = []
        // `RUN <<EOF` starting with `#!`: the script, read-only at /dev/pipes/<name> (on the sandbox's /dev tmpfs).
        for f in run.files {
            guard let mode = UInt32(f.mode, radix: 8) else {
                throw BuildEngineError(
                    .invalidInput, "line \(step.line): heredoc file \(f.destination): bad mode \(f.mode)")
            }
            spec.files.append(PhaseFile(target: f.destination, content: f.content, mode: mode, uid: 0, gid: 0))
        }
        for m in run.mounts {
            switch m.type {
            case .cache:
                spec.caches.append(
                    CacheMount(
                        name: Self.cacheName(m), target: m.target, uid: m.uid.map { UInt32($0) },
                        gid: m.gid.map { UInt32($0) },
                        mode: m.mode.flatMap { UInt32($0, radix: 8) }))
                extraDirs.append(m.target)
            case .secret:
                let id = m.id ?? (m.target as NSString).lastPathComponent
                guard let secret = options.secrets.first(where: { $0.id == id }) else {
                    if m.required {
                        throw BuildEngineError(
                            .invalidInput,
                            "line \(step.line): RUN --mount=type=secret,id=\(id) is required but no secret '\(id)' was given (--secret \(id)=env:VAR or \(id)=file:PATH)"
                        )
                    }
                    continue
                }
                if let e = m.env, !e.isEmpty {
                    env[e] = secret.value
                    if m.target.isEmpty { continue }
                }
                // BuildKit's defaults: /run/secrets/<id>, mode 0400, owned by 0:0 (uid=/gid=/mode= change them).
                let written = m.target.isEmpty ? "/run/secrets/" + id : m.target
                let target = "/" + StagingPath.clean(inRoot[written] ?? written)
                guard target != "/" else {
                    throw BuildEngineError(
                        .invalidInput, "line \(step.line): secret '\(id)': invalid target \(m.target)")
                }
                let mode =
                    try m.mode.map { v -> UInt32 in
                        guard let n = UInt32(v, radix: 8) else {
                            throw BuildEngineError(.invalidInput, "line \(step.line): secret '\(id)': bad mode \(v)")
                        }
                        return n
                    } ?? 0o400
                guard secret.value.utf8.allSatisfy({ $0 != 0 }) else {
                    throw BuildEngineError(
                        .invalidInput,
                        "line \(step.line): secret '\(id)' contains a NUL byte: the sandbox passes secrets as text")
                }
                spec.files.append(
                    PhaseFile(
                        target: target, content: secret.value, mode: mode,
                        uid: UInt32(clamping: m.uid ?? 0), gid: UInt32(clamping: m.gid ?? 0)))
                stubs.append(target)
                mountTargets.append(target)
            case .bind:
                let source: String
                if let s = m.from?.stage {
                    guard let st = done[s] else {
                        throw BuildEngineError(
                            .invalidInput, "line \(step.line): --mount from stage \(s), which did not run")
                    }
                    source = try withMergedView(st) { root in
                        try copyOut(root + "/" + StagingPath.clean(m.source ?? "/"))
                    }
                } else if let image = m.from?.image {
                    // An image (oci-layout: or registry, pulled like FROM): its unpacked rootfs.
                    let st = try imageBase(
                        image, line: step.line, instruction: "RUN --mount=type=bind,from=", use: .mountFrom)
                    source = try withMergedView(st) { root in
                        try copyOut(root + "/" + StagingPath.clean(m.source ?? "/"))
                    }
                } else {
                    source = try copyOut(contextDirectory + "/" + StagingPath.clean(m.source ?? "."))
                    // The context a bind mount sees is the one Docker sends: without what .dockerignore excludes.
                    if !build.contextExclude.isEmpty {
                        pruneIgnored(source, contextPath: StagingPath.clean(m.source ?? "."))
                    }
                    // Context files belong to the namespace's root (as COPY makes them), readable whatever their host owner.
                    try chownTree(source, uid: 0, gid: 0)
                }
                binds.append((m.target, source))
            case .tmpfs:
                let target = "/" + StagingPath.clean(inRoot[m.target] ?? m.target)
                guard target != "/" else {
                    throw BuildEngineError(.invalidInput, "line \(step.line): tmpfs mount: invalid target \(m.target)")
                }
                spec.tmpfs.append(TmpfsMount(target: target, sizeBytes: m.size))
                extraDirs.append(target)
                mountTargets.append(target)
            }
        }
        defer { for b in binds { removeTree(b.source) } }
        if let bundle = options.caBundle {
            spec.secrets.append(try CABundle.secret(bundle))
            for v in CABundle.variables where env[v] == nil { env[v] = CABundle.path }
        }
        spec.environment = env
        // As in Docker, SOURCE_DATE_EPOCH reaches RUN only when the Dockerfile declares it (ARG): layer times are clamped anyway.
        let extra = try runner.mountPointLower(
            dirs: extraDirs, binds: binds, stubs: stubs, lowers: state.trees.reversed() + [state.rootfs])
        defer { if let extra { removeTree(extra) } }
        options.emit(.message("[\(phase)] RUN \(run.argv.joined(separator: " ").prefix(100))"))
        let output = runner.phaseOutput(step: phase)
        let outcome: PhaseOutcome
        do {
            outcome = try sandbox.run(
                spec, base: state.rootfs, layers: state.trees + (extra.map { [$0] } ?? []), output: output)
        } catch let e as SandboxError where e.code == .commandFailed || e.code == .timedOut {
            throw BuildEngineError(
                .stepFailed, "\(phase): \(step.instruction.prefix(200)) failed", phase: phase,
                command: run.argv.joined(separator: " "),
                exitStatus: e.exitStatus, lastOutput: e.detail)
        }
        rec.warnings += outcome.warnings.map { BuildWarning(.phase, $0, step: phase) }
        // Bind targets and mount points live in the extra lower: their contents are not the step's output.
        var changes = outcome.changes
        let dropped = binds.map(\.target) + mountTargets
        if !dropped.isEmpty {
            let prefixes = dropped.map { StagingPath.clean($0) }
            changes = ChangeSet(
                changes.changes.filter { c in
                    let p = Self.changePath(c)
                    return !prefixes.contains { p == $0 || p.hasPrefix($0 + "/") }
                })
        }
        return try runner.capture(outcome, changes: changes, blobLabel: "run", what: phase) { tree in
            for t in dropped {
                // Only what the diff dropped: a target that is a mount point never has content in the upper.
                var st = stat()
                if lstat(tree + "/" + StagingPath.clean(t), &st) == 0 { removeTree(tree + "/" + StagingPath.clean(t)) }
            }
        }
    }

    static func changePath(_ c: ChangeSet.Change) -> String {
        switch c {
        case .add(let path, _): return StagingPath.clean(path)
        case .delete(let path): return StagingPath.clean(path)
        case .opaque(let path): return StagingPath.clean(path)
        }
    }

    /// Removes from `copy` (a copy of the context path `contextPath`) what is not in the build context after
    /// .dockerignore (`build.contextFiles`).
    func pruneIgnored(_ copy: String, contextPath: String) {
        let kept = Set(build.contextFiles.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
        var st = stat()
        guard lstat(copy, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        func walk(_ rel: String) {
            let dir = rel.isEmpty ? copy : copy + "/" + rel
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                let r = rel.isEmpty ? name : rel + "/" + name
                let inContext = contextPath.isEmpty ? r : contextPath + "/" + r
                if !kept.contains(inContext) {
                    removeTree(copy + "/" + r)
                    continue
                }
                if lstat(copy + "/" + r, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { walk(r) }
            }
        }
        walk("")
    }

    /// A host copy of a bind mount's source (removed after the step).
    func copyOut(_ path: String) throws -> String {
        let dst = cache.scratchPath("bind")
        let r = try runHost("/bin/cp", ["-a", "--no-target-directory", path, dst])
        guard r.status == 0 else {
            throw BuildEngineError(.staging, "cannot copy the bind mount source \(path): \(r.output)")
        }
        return dst
    }

    // MARK: - Users

    struct UserIDs {
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    /// `user[:group]` by name or number, looked up in the stage's /etc/passwd and /etc/group.
    static func resolveUser(_ spec: String, root: String, line: Int) throws -> UserIDs {
        if spec.isEmpty { return UserIDs(uid: 0, gid: 0, home: "/root") }
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let passwd = ((try? String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        let groups = ((try? String(contentsOfFile: root + "/etc/group", encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        var uid: UInt32, gid: UInt32 = 0, home = "/"
        if let n = UInt32(parts[0]) {
            uid = n
            if let e = passwd.first(where: { $0.count >= 6 && $0[2] == parts[0] }) {
                gid = UInt32(e[3]) ?? 0
                home = e[5]
            }
        } else if let e = passwd.first(where: { $0.count >= 6 && $0[0] == parts[0] }), let u = UInt32(e[2]) {
            uid = u
            gid = UInt32(e[3]) ?? 0
            home = e[5]
        } else {
            throw BuildEngineError(
                .invalidInput,
                "line \(line): unable to find user \(parts[0]): no matching entries in the stage's /etc/passwd")
        }
        if parts.count > 1 {
            if let n = UInt32(parts[1]) {
                gid = n
            } else if let g = groups.first(where: { $0.count >= 3 && $0[0] == parts[1] }), let n = UInt32(g[2]) {
                gid = n
            } else {
                throw BuildEngineError(
                    .invalidInput,
                    "line \(line): unable to find group \(parts[1]): no matching entries in the stage's /etc/group")
            }
        }
        if uid == 0 && home == "/" { home = "/root" }
        return UserIDs(uid: uid, gid: gid, home: home)
    }

    /// `--chown` ids: names resolved in the stage (BuildKit maps unknown names to 0).
    static func resolveChown(_ spec: String, root: String) -> (UInt32, UInt32) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let passwd = ((try? String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        let groups = ((try? String(contentsOfFile: root + "/etc/group", encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        var uid: UInt32 = 0, gid: UInt32 = 0
        if let n = UInt32(parts[0]) {
            uid = n
        } else if let e = passwd.first(where: { $0.count >= 4 && $0[0] == parts[0] }) {
            uid = UInt32(e[2]) ?? 0
            gid = UInt32(e[3]) ?? 0
        }
        if parts.count > 1 {
            if let n = UInt32(parts[1]) {
                gid = n
            } else {
                gid = groups.first(where: { $0.count >= 3 && $0[0] == parts[1] }).flatMap { UInt32($0[2]) } ?? 0
            }
        } else if UInt32(parts[0]) != nil {
            gid = uid
        }
        return (uid, gid)
    }

    // MARK: - Merged views

    /// Runs `body` with the stage's filesystem (rootfs + step trees) visible at one path (`StageRunner.withMergedView`).
    func withMergedView<T>(_ state: StageBuild, _ body: (String) throws -> T) throws -> T {
        try runner.withMergedView(rootfs: state.rootfs, trees: state.trees, body)
    }

    // MARK: - ID helpers

    /// Gives `path` to namespace `uid`:`gid` (the identity's one mapping policy: an unmapped id is an error).
    func chownHost(_ path: String, uid: UInt32, gid: UInt32) throws {
        try sandbox.identity.give(path, uid: uid, gid: gid)
    }

    func chownTree(_ path: String, uid: UInt32, gid: UInt32) throws {
        try sandbox.identity.give(path, uid: uid, gid: gid, recursive: true)
    }

    // MARK: - Paths

    /// `path` with the symlinks among its existing components resolved inside `root`: absolute link targets start at
    /// `root`, `..` stops there (the way a container runtime resolves mount targets). At most 40 links.
    static func resolveInRoot(_ path: String, root: String) -> String {
        var done: [String] = []
        var todo = path.split(separator: "/").map(String.init)
        var links = 0
        while !todo.isEmpty {
            let c = todo.removeFirst()
            if c == "." { continue }
            if c == ".." {
                if !done.isEmpty { done.removeLast() }
                continue
            }
            // `done` has no symlink: the host path stays below `root`.
            let candidate = root + "/" + (done + [c]).joined(separator: "/")
            var st = stat()
            if links < 40, lstat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK,
                let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate)
            {
                links += 1
                if dest.hasPrefix("/") { done = [] }
                todo = dest.split(separator: "/").map(String.init) + todo
                continue
            }
            done.append(c)
        }
        return "/" + done.joined(separator: "/")
    }

    /// Digest of a context path (files, modes, link targets) for cache keys: only what the build context holds
    /// after .dockerignore (what a bind mount of it shows), so editing an ignored file re-runs nothing.
    func contextDigest(_ rel: String) throws -> String {
        let prefix = StagingPath.clean(rel)
        let root = contextDirectory + "/" + prefix
        var parts = ["ctx"]
        var st = stat()
        guard lstat(root, &st) == 0 else { return "missing" }
        var paths = [""]
        if (st.st_mode & S_IFMT) == S_IFDIR, let e = FileManager.default.enumerator(atPath: root) {
            while let p = e.nextObject() as? String { paths.append(p) }
        }
        if !build.contextExclude.isEmpty {
            // The same visibility rule as `pruneIgnored`: an entry counts when it and every parent below the
            // mounted path are in the context.
            let kept = Set(build.contextFiles.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
            paths = paths.filter { p in
                var inContext = prefix
                for c in p.split(separator: "/") {
                    inContext = inContext.isEmpty ? String(c) : inContext + "/" + c
                    if !kept.contains(inContext) { return false }
                }
                return true
            }
        }
        for p in paths.sorted() {
            let full = p.isEmpty ? root : root + "/" + p
            guard lstat(full, &st) == 0 else { continue }
            parts.append("\(p) \(String(st.st_mode, radix: 8))")
            switch st.st_mode & S_IFMT {
            case S_IFREG: parts.append(try CacheKey.fileDigest(full).hex)
            case S_IFLNK: parts.append((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "")
            default: break
            }
        }
        return CacheKey.of(parts)
    }
}
