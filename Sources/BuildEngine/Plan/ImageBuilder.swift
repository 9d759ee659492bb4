import COCISys
import Foundation
import OCIWriter
import Planner
import Sandbox
import SupplyChain

#if canImport(Glibc)
    import Glibc
#endif

/// Builds a `ResolvedPlan` into an OCI image: the build stage (build image + one layer per step that changed
/// something, app files staged as the steps' inputs say) and the runtime stage (runtime base + runtime apt
/// packages + the deploy inputs), every layer cached under a key of its parent, commands, visible environment,
/// secret ids and input file contents. Blocking: call it off the cooperative pool.
public struct ImageBuilder: Sendable {
    public let plan: ResolvedPlan
    public let appDirectory: String
    public let options: BuildOptions
    public let sandbox: any PhaseRunner
    public let cache: BuildCache
    /// The engine shared with `DockerfileExecutor`: cache, staging, phase capture.
    let runner: StageRunner
    /// This build's apt session (`AptPhaseScript.sessionVariable`): the apt phases of one build refresh each set of
    /// package lists once.
    let aptSession = String(UInt64.random(in: 1...UInt64.max), radix: 16)

    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    static let aptCaches = [
        CacheMount(name: "apt-cache", target: "/var/cache/apt"),
        CacheMount(name: "apt-lists", target: "/var/lib/apt/lists")
    ]

    init(
        plan: ResolvedPlan, appDirectory: String, options: BuildOptions, target: ImageDestination,
        sandbox: any PhaseRunner
    ) throws {
        self.plan = plan
        self.appDirectory = URL(fileURLWithPath: appDirectory).standardizedFileURL.path
        self.options = options
        self.sandbox = sandbox
        self.runner = try StageRunner(sandbox: sandbox, options: options, target: target)
        self.cache = runner.cache
    }

    /// One layer of a stage under construction.
    typealias Item = StageLayer
    typealias Recorder = BuildRecorder

    // MARK: - Build

    public func build() throws -> BuildReport { try buildReportingStage().report }

    /// The build, and the build stage's Debian packages when `--sbom-build-stage` asks for its SBOM.
    func buildReportingStage() throws -> (report: BuildReport, buildStagePackages: [SBOMPackage]?) {
        let started = Date()
        let deploy = try checkBuildable()
        let rec = Recorder()
        let files = try contextFiles()
        let (buildStage, runtimeStage) = try stages(deploy, files: files, rec: rec)
        let report = try writeImage(deploy, runtime: runtimeStage, build: buildStage, rec: rec, started: started)
        return (report, options.attestations.buildStageSBOM ? try buildStage.debianPackages() : nil)
    }

    /// The plan's runtime section, after refusing what this builder cannot build (a Dockerfile plan, a foreign
    /// platform).
    func checkBuildable() throws -> Deploy {
        guard plan.strategy == .plan, let deploy = plan.deploy else {
            throw BuildEngineError(
                .unsupported,
                "this plan uses the Dockerfile strategy (\(plan.dockerfile?.path ?? "Dockerfile")), which `ociforge build` does not execute yet: use --strategy plan"
            )
        }
        if CrossCompilation.needsEmulation(plan, options) { try TargetPlatform.requireRunnable(options.platform) }
        return deploy
    }

    // MARK: - Image

    /// Assembles the runtime stage into the destination layout with the plan's config and reports the build.
    func writeImage(_ deploy: Deploy, runtime: RuntimeStage, build: BuildStage, rec: Recorder, started: Date)
        throws -> BuildReport
    {
        let runtimeBaseImage = try baseImage(runtime.base, name: runtime.image)
        let annotations = try imageAnnotations(baseName: runtime.image, baseDigest: runtimeBaseImage.manifestDigest)
        let changes = try imageConfig(deploy, runtime: runtime, annotations: annotations)
        let layout = try runner.targetLayout()
        let tag = runner.target.tag
        var inputs: [LayerInput] = []
        for item in runtime.layers {
            guard let l = item.layer else { continue }
            inputs.append(try runner.layerInput(l, createdBy: item.createdBy))
        }
        var assembler = ImageAssembler(
            base: .layout(cache.blobs, tag: runtimeBaseImage.tag, platform: nil), layers: inputs,
            changes: changes, destination: layout, tag: tag)
        assembler.environment = assemblyEnvironment()
        let image = try assembler.assemble()
        let layers = Self.built([runtime.base] + runtime.layers, stage: "runtime")
        let buildLayers = Self.built(build.stack, stage: "build")
        return BuildReport(
            reference: runner.target.reference, layout: layout.path, tag: tag,
            manifestDigest: image.manifestDigest, configDigest: image.configDigest,
            output: ImageLocation.ociLayout(path: layout.path, tag: tag).description, deliveredDigest: nil,
            layers: layers, imageSize: layers.reduce(0) { $0 + $1.size },
            imageUncompressedSize: layers.reduce(0) { $0 + $1.uncompressedSize },
            buildStageSize: buildLayers.reduce(0) { $0 + $1.size },
            buildStageUncompressedSize: buildLayers.reduce(0) { $0 + $1.uncompressedSize },
            executed: rec.executed, cached: rec.cached, timings: rec.timings,
            totalSeconds: Date().timeIntervalSince(started), annotations: annotations, warnings: rec.warnings,
            bases: [
                BaseImageRecord(stage: "build", name: options.base ?? plan.buildImage, base: build.stack[0]),
                BaseImageRecord(stage: "runtime", name: runtime.image, base: runtime.base)
            ].compactMap { $0 })
    }

    /// The image config: environment (the runtime toolchains' PATH entries and variables), working directory,
    /// start command, user, exposed port, annotations and the source/revision labels.
    func imageConfig(_ deploy: Deploy, runtime: RuntimeStage, annotations: [String: String]) throws -> ConfigChanges {
        var changes = ConfigChanges()
        var env = deploy.env
        for v in runtime.toolchainEnvironment.variables where env[v.name] == nil { env[v.name] = v.value }
        env["PATH"] = (deploy.paths + runtime.toolchainEnvironment.pathEntries + [Self.defaultPath])
            .joined(separator: ":")
        changes.env = env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        changes.workingDir = runtime.workdir
        if let start = deploy.startCommand, !start.isEmpty {
            changes.cmd =
                runtime.isStatic
                ? try Self.execForm(start, workingDirectory: runtime.workdir, base: runtime.image)
                : ["/bin/sh", "-c", start]
        }
        if let user = deploy.user, !user.isEmpty { changes.user = user }
        if let port = deploy.env["PORT"] ?? plan.buildVariables["PORT"], let n = Int(port), n > 0, n < 65536 {
            changes.exposedPorts = ["\(n)/tcp"]
        }
        changes.annotations = annotations
        changes.labels = annotations.filter {
            ["org.opencontainers.image.source", "org.opencontainers.image.revision"].contains($0.key)
        }
        return changes
    }

    /// The report's entries for the items that have a layer.
    static func built(_ items: [Item], stage: String) -> [BuiltLayer] {
        items.compactMap { i in
            i.layer.map {
                BuiltLayer(
                    stage: stage, phase: i.phase, createdBy: i.createdBy, digest: $0.digest, diffID: $0.diffID,
                    size: $0.size, uncompressedSize: $0.uncompressedSize, cached: i.cached)
            }
        }
    }

    // MARK: - Bases

    /// `debian:<suite>` and `debian:<suite>-slim` are mmdebstrap minbase trees; anything else a rootfs directory or tarball.
    public static func baseSource(_ image: String) throws -> BaseSource {
        if image.hasPrefix("debian:") {
            var suite = String(image.dropFirst(7))
            if suite.hasSuffix("-slim") { suite = String(suite.dropLast(5)) }
            return try BaseSource.parse("debian:" + suite)
        }
        do { return try BaseSource.parse(image) } catch {
            throw BuildEngineError(
                .invalidInput,
                "base image '\(image)' is not supported: use debian:<suite>[-slim] (assembled with mmdebstrap) or a rootfs directory or tarball (--base / --runtime-base)"
            )
        }
    }

    func rootfs(for image: String, stage: String) throws -> String {
        let started = Date()
        let source = try Self.baseSource(image)
        let options = options
        let path = try runner.baseRootfs(
            source, stage: stage, platform: CrossCompilation.basePlatform(stage: stage, plan, options),
            log: { options.emit(.message("[\(stage)] \($0)")) })
        let s = Date().timeIntervalSince(started)
        if s > 1 { options.emit(.message("[\(stage)] base \(image) ready in \(BuildFormat.seconds(s))")) }
        return path
    }

    func baseItem(rootfs: String, name: String, stage: String, rec: Recorder) throws -> Item {
        let slim = name.hasPrefix("debian:") && name.hasSuffix("-slim")
        let key = runner.baseKey(runner.bases.name(of: rootfs), slim: slim)
        let what = slim ? "mmdebstrap minbase without docs, man pages and locales" : "mmdebstrap minbase"
        return try cachedOrBuilt(
            key: key, stage: stage, phase: "base", createdBy: "ociforge base \(name) (\(what))",
            rec: rec, isCommand: false
        ) {
            let file = runner.temporaryLayerFile("base", rec: rec)
            if slim {
                var adds: [ChangeSet.Change] = []
                try Self.slimTree(rootfs: rootfs, relative: "", into: &adds)
                return (try LayerWriter.write(changes: ChangeSet(adds), to: file, options: layerOptions), file, nil)
            }
            return (try LayerWriter.write(directory: rootfs, to: file, options: layerOptions), file, nil)
        }
    }

    static let scratchUID: UInt32 = 999

    /// The `scratch` runtime base (no Debian rootfs): /etc/passwd, group and nsswitch.conf (with `user`, uid/gid
    /// 999, home /home/<user>), /tmp, and the build stage's `/etc/ssl/certs/ca-certificates.crt` and
    /// `/usr/share/zoneinfo` as of the end of the build stage.
    func scratchBaseItem(
        user: String?, uid: UInt32 = scratchUID, buildRootfs: String, buildStack: [Item], rec: Recorder
    ) throws -> Item {
        let account = user.flatMap { $0 == "root" || $0 == "0" || $0.isEmpty ? nil : $0 }
        let key = CacheKey.of(
            [
                "scratch-base", runner.bases.name(of: buildRootfs), options.sourceDateEpoch.map(String.init) ?? "",
                CacheKey.layerFormat(layerOptions), account ?? "", uid == Self.scratchUID ? "" : String(uid)
            ]
                + buildStack.map(\.key))
        return try cachedOrBuilt(
            key: key, stage: "runtime", phase: "base",
            createdBy:
                "ociforge base scratch (/etc/passwd, group, nsswitch.conf; CA bundle and zoneinfo from the build stage)",
            rec: rec, isCommand: false
        ) {
            try runner.stagedLayer("scratch", rec: rec) { staging in
                try Self.writeScratchTree(
                    staging, user: account, uid: uid, trees: [buildRootfs] + buildStack.compactMap(\.tree))
                try chownToNamespaceRoot(staging)
                if let account { try sandbox.identity.give(staging + "/home/" + account, uid: uid, gid: uid) }
            }
        }
    }

    static func writeScratchTree(_ root: String, user: String?, uid scratchUID: UInt32 = scratchUID, trees: [String])
        throws
    {
        let fm = FileManager.default
        func dir(_ rel: String, _ mode: Int16 = 0o755) throws {
            try makeDirectories(root + "/" + rel)
            chmod(root + "/" + rel, mode_t(mode))
        }
        func file(_ rel: String, _ text: String) throws {
            guard
                fm.createFile(
                    atPath: root + "/" + rel, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
            else {
                throw BuildEngineError(.staging, "cannot write \(root)/\(rel)")
            }
        }
        try dir("etc")
        try dir("tmp", 0o1777)
        try dir("root", 0o700)
        var passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        var group = "root:x:0:\nnogroup:x:65534:\n"
        if let user {
            passwd += "\(user):x:\(scratchUID):\(scratchUID)::/home/\(user):/sbin/nologin\n"
            group += "\(user):x:\(scratchUID):\n"
            try dir("home/" + user)
        }
        try file("etc/passwd", passwd)
        try file("etc/group", group)
        try file("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
        try StageCopy.copy(staticRuntimeFiles, from: trees, into: root)
    }

    /// What a static binary needs from a distribution: the CA bundle (TLS) and the time zone database.
    static let staticRuntimeFiles = ["etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo"]

    /// The scratch base's build-stage files (CA bundle, zoneinfo) for a Debian runtime base used instead of it
    /// (`--runtime-base`, or a start command needing a shell): those the runtime base lacks, from the build stage.
    func buildStageFilesItem(
        parent: Item, runtimeRootfs: String, buildRootfs: String, buildStack: [Item], rec: Recorder
    ) throws -> Item {
        try runner.bases.materialize()
        let missing = Self.staticRuntimeFiles.filter { access(runtimeRootfs + "/" + $0, F_OK) != 0 }
        let key = CacheKey.of(
            ["build-stage-files", parent.key, runner.bases.name(of: buildRootfs)] + missing + ["--"]
                + buildStack.map(\.key))
        return try cachedOrBuilt(
            key: key, stage: "runtime", phase: "build-stage-files",
            createdBy: "ociforge copy \(missing.map { "/" + $0 }.joined(separator: " ")) from the build stage",
            rec: rec, isCommand: false
        ) {
            guard !missing.isEmpty else { return (nil, nil, nil) }
            return try runner.stagedLayer("files", rec: rec) { staging in
                try makeDirectories(staging)
                try StageCopy.copy(missing, from: [buildRootfs] + buildStack.compactMap(\.tree), into: staging)
                try chownToNamespaceRoot(staging)
            }
        }
    }

    /// The start command as an exec-form Cmd, for bases without /bin/sh: plain words only; `./x` becomes
    /// `<workdir>/x`.
    static func execForm(_ start: String, workingDirectory: String, base: String) throws -> [String] {
        let special = CharacterSet(charactersIn: "|&;<>()$`\\\"'*?[]{}~#\n")
        var words = start.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !words.isEmpty, start.rangeOfCharacter(from: special) == nil, !words[0].contains("=") else {
            throw BuildEngineError(
                .unsupported,
                "the start command `\(start)` needs a shell, which the runtime base '\(base)' does not have: use plain words (program and arguments) or a Debian runtime base (start.runImage / --runtime-base \(Debian.runtimeImage))"
            )
        }
        if words[0].hasPrefix("./") {
            words[0] =
                (workingDirectory.hasSuffix("/") ? workingDirectory : workingDirectory + "/") + words[0].dropFirst(2)
        }
        return words
    }

    /// What Debian's `-slim` images leave out (dpkg path-exclude in the official images): documentation except
    /// copyright files, man and info pages, translations.
    static let slimExcludedDirectories: Set<String> = [
        "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
        "usr/share/lintian", "usr/share/linda"
    ]

    static func slimTree(rootfs: String, relative: String, into adds: inout [ChangeSet.Change]) throws {
        let dir = relative.isEmpty ? rootfs : rootfs + "/" + relative
        let excludedHere = slimExcludedDirectories.contains(relative)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let host = rootfs + "/" + rel
            var st = stat()
            guard lstat(host, &st) == 0 else {
                throw BuildEngineError(.staging, "cannot read \(host): \(String(cString: strerror(errno)))")
            }
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if excludedHere {
                // Keep only usr/share/doc/<pkg>/copyright (licences must ship).
                guard relative == "usr/share/doc", isDir else { continue }
                let copyright = host + "/copyright"
                if lstat(copyright, &st) == 0 {
                    adds.append(.add(path: rel, source: host))
                    adds.append(.add(path: rel + "/copyright", source: copyright))
                }
                continue
            }
            adds.append(.add(path: rel, source: host))
            if isDir { try slimTree(rootfs: rootfs, relative: rel, into: &adds) }
        }
    }

    /// A one-layer image of the base in the cache's layout (its manifest digest is `base.digest`).
    func baseImage(_ base: Item, name: String) throws -> (tag: String, manifestDigest: Digest) {
        guard let l = base.layer else { throw BuildEngineError(.image, "the base layer is missing") }
        let tag = "base-" + String(base.key.prefix(40))
        var a = ImageAssembler(
            base: .scratch(platform: TargetPlatform.of(options)),
            layers: [try runner.layerInput(l, createdBy: base.createdBy)],
            changes: ConfigChanges(), destination: cache.blobs, tag: tag)
        a.environment = assemblyEnvironment()
        return (tag, try a.assemble().manifestDigest)
    }

    // MARK: - Items

    var layerOptions: LayerWriteOptions { runner.layerOptions }

    func assemblyEnvironment() -> [String: String] { runner.assemblyEnvironment() }

    /// Takes `key` from the cache, else runs `produce` and stores what it made (`StageRunner.step`, with this front
    /// end's `stage/phase` names).
    func cachedOrBuilt(
        key: String, stage: String, phase: String, createdBy: String, rec: Recorder, isCommand: Bool,
        detail: String = "writing the layer", needsBases: Bool = true,
        produce: () throws -> StepOutput
    ) throws -> Item {
        let label = "\(stage)/\(phase)"
        let options = self.options
        let reporting = StepReporting(
            name: label, timingStage: stage, timingPhase: phase, log: { options.emit(.notice("[\(stage)] \($0)")) },
            cached: { options.emit(.cached(step: label)) },
            started: { options.emit(.started(step: label, detail: detail)) },
            finished: { s, result in
                options.emit(
                    .finished(
                        step: label, seconds: s, layerSize: result?.size, uncompressedSize: result?.uncompressedSize))
            },
            layerFile: { options.emit(.writingLayer(step: label, file: $0)) })
        return try runner.step(
            key: key, phase: phase, createdBy: createdBy, reporting: reporting, isCommand: isCommand, rec: rec,
            needsBases: needsBases, produce: produce)
    }

    /// App files copied to `destination` (root-owned), as a layer and an overlay lower.
    func copyItem(
        files: [String], parent: Item, rec: Recorder, stage: String, label: String, destination: String = "/app"
    ) throws -> Item {
        var parts = ["copy", parent.key, destination]
        for f in files {
            let p = appDirectory + "/" + f
            var st = stat()
            guard lstat(p, &st) == 0 else {
                throw BuildEngineError(.staging, "cannot read app file \(p): \(String(cString: strerror(errno)))")
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                parts.append("L \(f) \((try? FileManager.default.destinationOfSymbolicLink(atPath: p)) ?? "")")
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                parts.append("F \(f) \(st.st_mode & 0o111 != 0 ? "x" : "-") \(try CacheKey.fileDigest(p).hex)")
            }
        }
        let key = CacheKey.of(parts)
        let summary = files.count <= 3 ? files.joined(separator: " ") : "\(files.count) files"
        return try cachedOrBuilt(
            key: key, stage: stage, phase: label, createdBy: "ociforge copy \(summary) → \(destination)",
            rec: rec, isCommand: false, needsBases: false
        ) {
            try runner.stagedLayer("copy", rec: rec) { staging in
                try stageFiles(files, into: staging + destination)
                try chownToNamespaceRoot(staging)
            }
        }
    }

    func stageFiles(_ files: [String], into root: String) throws {
        let fm = FileManager.default
        try makeDirectories(root)
        for f in files {
            let src = appDirectory + "/" + f, dst = root + "/" + f
            let parent = (dst as NSString).deletingLastPathComponent
            try makeDirectories(parent)
            var st = stat()
            guard lstat(src, &st) == 0 else { throw BuildEngineError(.staging, "cannot read app file \(src)") }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                try fm.createSymbolicLink(
                    atPath: dst, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: src))
            case S_IFREG:
                try fm.copyItem(atPath: src, toPath: dst)
                chmod(dst, (st.st_mode & 0o111) != 0 ? 0o755 : 0o644)
            default: continue
            }
        }
    }

    /// Gives a staged tree (and everything in it) to the namespace's root.
    func chownToNamespaceRoot(_ path: String) throws {
        try sandbox.identity.giveToNamespaceRoot([path], recursive: true)
    }

    /// The plan's static assets under /assets.
    func assetsItem(parent: Item, rec: Recorder, stage: String) throws -> Item {
        let assets = plan.staticAssets.sorted { $0.key < $1.key }
        let key = CacheKey.of(["assets", parent.key] + assets.flatMap { [$0.key, $0.value] })
        return try cachedOrBuilt(
            key: key, stage: stage, phase: "assets",
            createdBy: "ociforge assets " + assets.map(\.key).joined(separator: " ") + " → /assets",
            rec: rec, isCommand: false, needsBases: false
        ) {
            try runner.stagedLayer("assets", rec: rec) { staging in
                try makeDirectories(staging + "/assets")
                for (name, text) in assets {
                    guard !name.contains("/"), !name.hasPrefix(".") else {
                        throw BuildEngineError(.staging, "static asset name '\(name)' must be a plain file name")
                    }
                    guard
                        FileManager.default.createFile(
                            atPath: staging + "/assets/" + name, contents: Data(text.utf8),
                            attributes: [.posixPermissions: 0o644])
                    else {
                        throw BuildEngineError(.staging, "cannot write static asset \(name)")
                    }
                }
                try chownToNamespaceRoot(staging)
            }
        }
    }

    /// Files as the build stage had them after `step` (the merged view of the base and every layer up to it),
    /// copied into the runtime stage; `include` paths are relative to the working directory unless absolute.
    func outputsItem(
        step: String, stack: [Item], rootfs: String, input: StepInput, workdir: String, parent: Item, rec: Recorder
    ) throws -> Item {
        let key = CacheKey.of(
            ["outputs", parent.key, workdir] + stack.map(\.key) + input.include + ["--"] + input.exclude)
        let what = input.include.joined(separator: " ")
        return try cachedOrBuilt(
            key: key, stage: "runtime", phase: "from-\(step)",
            createdBy: "ociforge copy \(what) from phase \(step) → \(workdir)", rec: rec, isCommand: false
        ) {
            let trees = [rootfs] + stack.compactMap(\.tree)
            var merged: [String: String] = [:]
            for inc in input.include {
                var rel = inc.hasPrefix("/") ? inc : (inc == "." ? workdir : workdir + "/" + inc)
                while rel.hasPrefix("/") { rel.removeFirst() }
                while rel.hasSuffix("/") { rel.removeLast() }
                for tree in trees { try MergedView.overlay(tree: tree, relative: rel, into: &merged) }
            }
            let wd = workdir.hasPrefix("/") ? String(workdir.dropFirst()) : workdir
            let adds: [ChangeSet.Change] = merged.keys.sorted().compactMap { path in
                let appRelative = path.hasPrefix(wd + "/") ? String(path.dropFirst(wd.count + 1)) : path
                if input.exclude.contains(where: { Self.matches(pattern: $0, path: appRelative) }) { return nil }
                return .add(path: path, source: merged[path]!)
            }
            if adds.isEmpty {
                rec.warnings.append(
                    BuildWarning(.emptyDeployInput, "deploy input from step '\(step)' (\(what)) matched no files"))
                return (nil, nil, nil)
            }
            let file = runner.temporaryLayerFile("outputs", rec: rec)
            let r = try LayerWriter.write(changes: ChangeSet(adds), to: file, options: layerOptions)
            return (r, file, nil)
        }
    }

    // MARK: - Phases

    /// Runs a step (apt packages, then its commands) in the sandbox on `stack`, or takes it from the cache.
    func phaseItem(
        stage: String, phase: String, apt: [String], commands: [String], env: [String: String], caches: [CacheMount],
        rootfs: String, stack: [Item], rec: Recorder, workingDirectory: String = "/app"
    ) throws -> Item {
        var secrets = options.secrets.sorted { $0.id < $1.id }
        var env = env
        if let bundle = options.caBundle {
            secrets.append(try CABundle.secret(bundle))
            for v in CABundle.variables { env[v] = CABundle.path }
        }
        let script = Self.script(
            apt: apt, commands: commands, workingDirectory: workingDirectory, secrets: secrets.map(\.id))
        let key = CacheKey.of(
            ["phase", stack.last!.key, phase, script, runner.bases.name(of: rootfs)]
                + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                + ["--secrets"] + secrets.map(\.id) + ["--caches"] + caches.map(\.target))
        var createdBy = "ociforge phase \(phase):"
        if !apt.isEmpty {
            createdBy += " apt-get install " + apt.joined(separator: " ") + (commands.isEmpty ? "" : " &&")
        }
        if !commands.isEmpty { createdBy += " " + commands.joined(separator: " && ") }
        let running =
            "running \(apt.isEmpty ? "" : "apt-get install \(apt.count) packages")\(apt.isEmpty || commands.isEmpty ? "" : ", ")\(commands.isEmpty ? "" : "\(commands.count) command\(commands.count == 1 ? "" : "s")")"
        return try cachedOrBuilt(
            key: key, stage: stage, phase: phase, createdBy: createdBy, rec: rec, isCommand: true, detail: running
        ) {
            let lowers = stack.compactMap(\.tree).reversed() + [rootfs]
            // (the key's script locks inside; a root without flock is locked from the host instead, same layer)
            let locksInside = apt.isEmpty || AptPhaseScript.hasFlock(trees: lowers)
            let command =
                locksInside
                ? script
                : Self.script(
                    apt: apt, commands: commands, workingDirectory: workingDirectory, secrets: secrets.map(\.id),
                    aptLocksInside: false)
            var spec = PhaseSpec(name: phase, command: ["/bin/sh", "-c", command])
            spec.environment = env
            if !apt.isEmpty { spec.environment[AptPhaseScript.sessionVariable] = aptSession }
            spec.network = options.network
            spec.caches = caches + (apt.isEmpty ? [] : Self.aptCaches)
            spec.secrets = secrets
            spec.workingDirectory = "/"
            let step = "\(stage)/\(phase)"
            let output = runner.phaseOutput(step: step)
            let outcome: PhaseOutcome
            let mountPoints = try runner.mountPointLower(dirs: caches.map(\.target), lowers: lowers)
            defer { if let mountPoints { removeTree(mountPoints) } }
            do {
                let hostLock =
                    locksInside ? nil : AptPhaseScript.hostListsLock(cachesDirectory: sandbox.state.caches)
                outcome = try Self.withAptLock(hostLock) {
                    try sandbox.run(
                        spec, base: rootfs, layers: stack.compactMap(\.tree) + (mountPoints.map { [$0] } ?? []),
                        output: output)
                }
            } catch let e as SandboxError where e.code == .commandFailed || e.code == .timedOut {
                throw Self.failure(e, stage: stage, phase: phase, apt: apt, commands: commands)
            }
            rec.warnings += outcome.warnings.map { BuildWarning(.phase, $0, step: "\(stage)/\(phase)") }
            if outcome.fullTree {
                outcome.discard()
                throw BuildEngineError(
                    .staging,
                    "phase \(stage)/\(phase) ran without overlayfs (the sandbox's copied-tree fallback), which `ociforge build` cannot stack yet: run on a kernel/file system where overlayfs with userxattr mounts under the state directory (\(sandbox.state.path))",
                    phase: "\(stage)/\(phase)")
            }
            return try runner.capture(
                outcome, changes: outcome.changes, blobLabel: phase, what: "phase \(phase)", rec: rec)
        }
    }

    /// Runs `body` holding `path` (the apt lists lock, `AptPhaseScript`) exclusively; nil: no lock.
    static func withAptLock<T>(_ path: String?, _ body: () throws -> T) throws -> T {
        guard let path else { return try body() }
        try makeDirectories((path as NSString).deletingLastPathComponent)
        // Read-only is enough for flock, and lets the phases' mapped root open a file the host made.
        let fd = open(path, O_CREAT | O_RDONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BuildEngineError(
                .staging, "cannot open the apt cache lock \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                throw BuildEngineError(.staging, "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The script a plan step runs as (for `--debug-build`).
    public static func debugScript(step: Step) -> String {
        script(apt: step.aptPackages, commands: step.commands, workingDirectory: "/app", secrets: [])
    }

    static let failMarker = "ociforge: command "

    /// The phase's shell script: apt packages (`AptPhaseScript`: caches are mounts shared under locks; logs and
    /// backups removed so layers are reproducible; with the `--ca-bundle` secret apt's https trusts it), then each
    /// command in turn, stopping at the first failure with a marker line naming it. `aptLocksInside`: the phase's
    /// root filesystem has `flock` (else the engine locks the apt caches around the whole phase).
    /// dpkg runs with --force-unsafe-io (as in Docker's Debian images): its per-file fsyncs protect an installed
    /// system from power loss, but a phase's upper directory is thrown away unless the phase completes and is then
    /// written (and fsynced) as a layer, so they only cost time — most of an install on a busy disk.
    static func script(
        apt: [String], commands: [String], workingDirectory: String, secrets: [String], aptLocksInside: Bool = true
    ) -> String {
        var s = "mkdir -p \(shellQuote(workingDirectory)) && cd \(shellQuote(workingDirectory)) || exit 1\n"
        for id in secrets where isVariableName(id) {
            s += "export \(id)=\"$(cat /run/secrets/\(id))\"\n"
        }
        var all: [String] = []
        if !apt.isEmpty {
            all.append(
                AptPhaseScript(
                    packages: apt, trustsCABundle: secrets.contains(CABundle.id), locksInside: aptLocksInside
                ).command)
        }
        all += commands
        for (i, c) in all.enumerated() {
            let shown = (apt.isEmpty || i > 0) ? c : "apt-get install " + apt.joined(separator: " ")
            s +=
                "{ \(c)\n} || { s=$?; echo \(shellQuote("\(failMarker)\(i + 1) of \(all.count) failed: " + shown)) \"(exit status $s)\" >&2; exit $s; }\n"
        }
        return s
    }

    /// The Debian architectures named by `pkg:arch` packages (a cross-compiling build stage's target libraries), in
    /// order: dpkg must know them before apt reads their indexes.
    static func foreignArchitectures(_ apt: [String]) -> [String] {
        let known: Set<String> = ["amd64", "arm64", "armhf", "armel", "i386", "ppc64el", "riscv64", "s390x"]
        var out: [String] = []
        for p in apt {
            let name = p.split(whereSeparator: { $0 == "=" || $0 == "/" }).first ?? ""
            guard let colon = name.lastIndex(of: ":") else { continue }
            let arch = String(name[name.index(after: colon)...])
            if known.contains(arch), !out.contains(arch) { out.append(arch) }
        }
        return out
    }

    static func failure(_ e: SandboxError, stage: String, phase: String, apt: [String], commands: [String])
        -> BuildEngineError
    {
        let detail = e.detail ?? ""
        var command: String?
        for line in detail.split(separator: "\n") {
            if let r = line.range(of: failMarker) {
                let rest = line[r.upperBound...]
                if let c = rest.range(of: " failed: ") {
                    var cmd = String(rest[c.upperBound...])
                    if let x = cmd.range(of: " (exit status", options: .backwards) {
                        cmd = String(cmd[..<x.lowerBound])
                    }
                    command = cmd
                }
            }
        }
        if e.code == .timedOut {
            return BuildEngineError(
                .timedOut, "phase \(stage)/\(phase) timed out", phase: "\(stage)/\(phase)", command: command,
                lastOutput: detail)
        }
        return BuildEngineError(
            .stepFailed, "phase \(stage)/\(phase) failed", phase: "\(stage)/\(phase)",
            command: command
                ?? (apt.isEmpty ? commands.joined(separator: " && ") : "apt-get install " + apt.joined(separator: " ")),
            exitStatus: e.exitStatus, lastOutput: detail)
    }

    // MARK: - Inputs

    /// The planner's resolved input files, minus ociforge's own output directory.
    func contextFiles() throws -> [String] {
        plan.context.files.filter { !$0.hasPrefix(".ociforge/") && $0 != ".ociforge" }
    }

    func select(_ files: [String], _ input: StepInput) -> [String] {
        files.filter { f in
            input.include.contains { Self.matches(pattern: $0, path: f) }
                && !input.exclude.contains { Self.matches(pattern: $0, path: f) }
        }
    }

    /// `.` matches everything; a pattern matches the path itself, anything under it, or as a glob.
    static func matches(pattern: String, path: String) -> Bool {
        var p = pattern
        while p.hasPrefix("./") { p.removeFirst(2) }
        while p.hasPrefix("/") { p.removeFirst() }
        while p.hasSuffix("/") { p.removeLast() }
        if p.isEmpty || p == "." || p == "**" { return true }
        if path == p || path.hasPrefix(p + "/") { return true }
        if fnmatch(p, path, FNM_PATHNAME) == 0 { return true }
        if p.hasPrefix("**/") {
            return matches(pattern: String(p.dropFirst(3)), path: (path as NSString).lastPathComponent)
        }
        // A glob matching a parent directory.
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty && parent != "/" {
            if fnmatch(p, parent, FNM_PATHNAME) == 0 { return true }
            parent = (parent as NSString).deletingLastPathComponent
        }
        return false
    }

    // MARK: - Annotations

    func imageAnnotations(baseName: String, baseDigest: Digest) throws -> [String: String] {
        var a: [String: String] = [
            "org.opencontainers.image.created": try ImageAssembler.createdTimestamp(environment: assemblyEnvironment()),
            "org.opencontainers.image.base.name": baseName,
            "org.opencontainers.image.base.digest": baseDigest.description
        ]
        if let git = Self.gitInfo(appDirectory) {
            if let s = git.source { a["org.opencontainers.image.source"] = s }
            a["org.opencontainers.image.revision"] = git.revision
        }
        return a
    }

    /// The repository's origin URL (credentials removed) and HEAD commit, when the app is in a git work tree.
    public static func gitInfo(_ directory: String) -> (source: String?, revision: String)? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/git") else { return nil }
        let env = [
            "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "GIT_CEILING_DIRECTORIES": ""
        ]
        guard
            let rev = try? runHost(
                "/usr/bin/git", ["-c", "safe.directory=*", "-C", directory, "rev-parse", "--verify", "-q", "HEAD"],
                environment: env),
            rev.status == 0
        else { return nil }
        let revision = rev.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard revision.count == 40 || revision.count == 64 else { return nil }
        var source: String?
        if let o = try? runHost(
            "/usr/bin/git", ["-c", "safe.directory=*", "-C", directory, "config", "--get", "remote.origin.url"],
            environment: env),
            o.status == 0
        {
            var url = o.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if let r = url.range(of: "://"), let at = url[r.upperBound...].firstIndex(of: "@"),
                !url[r.upperBound..<at].contains("/")
            {
                url = String(url[..<r.upperBound]) + String(url[url.index(after: at)...])
            }
            if !url.isEmpty { source = url }
        }
        return (source, revision)
    }

    // MARK: - Helpers

    static func validateUserName(_ user: String) throws {
        guard let f = user.first, f.isLetter || f == "_",
            user.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_.".contains($0) }), user.count <= 32
        else {
            throw BuildEngineError(
                .invalidInput,
                "start user '\(user)' is not a valid user name (letters, digits, '-', '_', '.'; starting with a letter)"
            )
        }
    }

    static func isVariableName(_ s: String) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
