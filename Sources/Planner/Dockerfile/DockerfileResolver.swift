import Foundation

/// Inputs of a Dockerfile resolution besides the file and the context.
public struct DockerfileOptions: Sendable, Equatable {
    /// `--build-arg` / config `args` (CLI entries already merged over config ones).
    public var buildArgs: [String: String] = [:]
    /// `--target`: a stage name (nil: the last stage).
    public var target: String?
    /// The target platform (`linux/amd64`); the build platform is the same (ociforge does not cross-build).
    public var platform: String = DockerfileOptions.hostPlatform
    /// Configs of base images, by reference as written in FROM after substitution: their Env is used for
    /// substitution in the stage, their WorkingDir for relative paths, their OnBuild triggers run first.
    /// Optional: without it, variables only the image defines expand to "" (resolve again after pulling).
    public var baseImages: [String: DockerfileImageConfig] = [:]
    public init() {}

    public static var hostPlatform: String {
        #if arch(arm64)
            return "linux/arm64"
        #else
            return "linux/amd64"
        #endif
    }
}

public enum Dockerfile {
    /// Build args Docker accepts without an ARG instruction (available to RUN, never recorded in the image).
    public static let predefinedArgs: Set<String> = [
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
        "ALL_PROXY", "all_proxy"
    ]
    public static let defaultShell = ["/bin/sh", "-c"]

    /// Reads, parses and resolves a Dockerfile.
    /// - Parameters:
    ///   - path: the Dockerfile (absolute, or relative to the working directory).
    ///   - display: how messages name it (`Dockerfile.prod`).
    ///   - context: the context directory; `contextDisplay` how the result names it.
    public static func resolve(
        path: String, display: String, context: String, contextDisplay: String = ".",
        options: DockerfileOptions
    ) throws(PlannerError) -> ResolvedDockerfile {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw PlannerError(.dockerfileNotFound, "Dockerfile not found: \(display)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlannerError(.io, "cannot read the Dockerfile", file: display)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PlannerError(.syntax, "the Dockerfile is not valid UTF-8", file: display)
        }
        let ast = try DockerfileParser.parse(text, file: display)
        // The Dockerfile-specific ignore file sits next to the Dockerfile.
        let tree = try DockerfileContextTree(
            root: context, dockerfileIgnore: (path + ".dockerignore", display + ".dockerignore"))
        var resolver = DockerfileResolver(ast: ast, tree: tree, options: options)
        var out = try resolver.resolve()
        out.dockerfile = display
        out.context = contextDisplay
        return out
    }
}

/// A stage as the resolver sees it while reading the Dockerfile: its base, steps and config changes so far
/// (`DockerfileExecutor.StageBuild` is the executor's stage being built).
struct ResolverStage {
    var index: Int
    var name: String?
    var line: Int
    var base: DockerfileBase
    var platform: String?
    var steps: [DockerfileStep] = []
    /// This stage's changes.
    var delta = DockerfileConfigDelta()
    /// Changes since the root of the chain (scratch or an image): the parent stage's chain + this stage's.
    var chain = DockerfileConfigDelta()
    /// The root image config, when known (scratch: Docker's default PATH).
    var rootConfig: DockerfileImageConfig?
    var cmdSet = false
    /// Declared args (name → value; nil = declared without a value).
    var args: [(String, String?)] = []
    var deps: Set<Int> = []
    /// A deferred error of the stage: raised only when the target needs the stage (BuildKit skips unneeded stages).
    var error: PlannerError?
}

struct DockerfileResolver {
    let ast: DockerfileAST
    let tree: DockerfileContextTree
    let options: DockerfileOptions
    let words: DockerfileWords
    var warnings: [String] = []
    var stages: [ResolverStage] = []
    var usedArgs: Set<String> = []
    var images: [Int: Set<String>] = [:]
    var secrets: [Int: Set<String>] = [:]
    /// Names of all stages (nil when unnamed), by index, from a first pass over the FROM lines.
    var allStageNames: [String?] = []
    var file: String { ast.file }

    init(ast: DockerfileAST, tree: DockerfileContextTree, options: DockerfileOptions) {
        self.ast = ast
        self.tree = tree
        self.options = options
        self.words = DockerfileWords(escape: Character(ast.directives.escape))
        for w in ast.warnings { warnings.append(w.description) }
    }

    func fail(_ code: PlannerError.Code, _ message: String, _ ins: DockerfileInstruction) -> PlannerError {
        PlannerError(code, message, file: file, line: ins.line)
    }

    mutating func warn(_ message: String, line: Int) { warnings.append("\(file):\(line): \(message)") }

    /// The automatic platform args (global scope); a build arg of the same name overrides each.
    var automaticArgs: [String: String] {
        let parts = options.platform.split(separator: "/").map(String.init)
        let os = parts.first ?? "linux", arch = parts.count > 1 ? parts[1] : "amd64"
        var variant = parts.count > 2 ? parts[2] : ""
        if arch == "arm64" && variant == "v8" { variant = "" }  // containerd normalizes arm64/v8 to arm64
        let platform = variant.isEmpty ? "\(os)/\(arch)" : "\(os)/\(arch)/\(variant)"
        var out = [
            "TARGETPLATFORM": platform, "TARGETOS": os, "TARGETARCH": arch, "TARGETVARIANT": variant,
            "TARGETOSVERSION": "",
            "BUILDPLATFORM": platform, "BUILDOS": os, "BUILDARCH": arch, "BUILDVARIANT": variant, "BUILDOSVERSION": "",
            "TARGETSTAGE": targetStageName
        ]
        for k in out.keys { if let v = options.buildArgs[k] { out[k] = v } }
        return out
    }
    /// TARGETSTAGE: the target, else the last stage's name, else `default`.
    var targetStageName = "default"

    func expand(_ text: String, _ env: [String: String], _ ins: DockerfileInstruction) throws(PlannerError) -> String {
        do { return try words.word(text, env) } catch {
            throw fail(.invalidValue, "\(ins.keyword): \(error.message)", ins)
        }
    }

    func expandWords(_ text: String, _ env: [String: String], _ ins: DockerfileInstruction) throws(PlannerError)
        -> [String]
    {
        do { return try words.words(text, env) } catch {
            throw fail(.invalidValue, "\(ins.keyword): \(error.message)", ins)
        }
    }

    // MARK: flags

    /// Validates the flags against what the instruction accepts; returns name → values (repeatable ones collect).
    func flags(_ ins: DockerfileInstruction, _ allowed: [String: FlagKind]) throws(PlannerError) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for f in ins.flags {
            guard let kind = allowed[f.name] else {
                let list = allowed.keys.sorted().map { "--" + $0 }.joined(separator: ", ")
                throw fail(
                    .unknownFlag,
                    "unknown flag: --\(f.name) (\(ins.keyword) accepts \(list.isEmpty ? "no flags" : list))", ins)
            }
            if kind != .repeated && out[f.name] != nil {
                throw fail(.unknownFlag, "duplicate flag specified: --\(f.name)", ins)
            }
            switch kind {
            case .bool:
                let v = f.value?.lowercased() ?? "true"
                guard v == "true" || v == "false" else {
                    throw fail(.invalidValue, "--\(f.name) expects true or false, not \"\(f.value!)\"", ins)
                }
                out[f.name] = [v]
            case .string, .repeated:
                guard let v = f.value else {
                    throw fail(.invalidValue, "missing a value for flag: --\(f.name) (use --\(f.name)=<value>)", ins)
                }
                out[f.name, default: []].append(v)
            }
        }
        return out
    }

    enum FlagKind { case bool, string, repeated }

    // MARK: main

    mutating func resolve() throws(PlannerError) -> ResolvedDockerfile {
        // Meta args: the ARGs before the first FROM.
        let fromLines = ast.instructions.filter { $0.keyword == "FROM" }
        allStageNames = fromLines.map { ins -> String? in
            let parts = ins.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return parts.count == 3 && parts[1].lowercased() == "as" ? parts[2].lowercased() : nil
        }
        targetStageName = options.target?.lowercased() ?? (allStageNames.last ?? nil) ?? "default"
        var metaArgs: [String: String] = automaticArgs
        var declaredMeta: Set<String> = []
        var i = 0
        let all = ast.instructions
        while i < all.count && all[i].keyword != "FROM" {
            let ins = all[i]
            guard ins.keyword == "ARG" else {
                throw fail(
                    .syntax,
                    "no build stage in current context: \(ins.keyword) before the first FROM (only ARG may precede FROM)",
                    ins)
            }
            for (name, def) in try argPairs(ins) {
                declaredMeta.insert(name)
                usedArgs.insert(name)
                if let v = options.buildArgs[name] {
                    metaArgs[name] = v
                } else if let d = def {
                    metaArgs[name] = try expand(d, metaArgs, ins)
                } else if automaticArgs[name] == nil {
                    metaArgs[name] = nil
                }
            }
            i += 1
        }
        guard !all.isEmpty else { throw PlannerError(.syntax, "the Dockerfile cannot be empty", file: file) }
        guard i < all.count else {
            throw PlannerError(
                .syntax, "dockerfile contains no stages to build (no FROM instruction)", file: file,
                line: all.last?.line)
        }
        // Stages.
        var stageNames: [String: Int] = [:]
        while i < all.count {
            let from = all[i]
            var j = i + 1
            while j < all.count && all[j].keyword != "FROM" { j += 1 }
            var stage = try startStage(from, index: stages.count, metaArgs: metaArgs, names: stageNames)
            if let n = stage.name { stageNames[n] = stage.index }
            do throws(PlannerError) {
                try runTriggers(&stage, metaArgs: metaArgs, names: stageNames)
                for ins in all[(i + 1)..<j] {
                    try dispatch(
                        ins, &stage, metaArgs: metaArgs, declaredMeta: declaredMeta, names: stageNames, trigger: false)
                }
            } catch {
                if error.code == .syntax || error.code == .unknownFlag || error.code == .unknownInstruction {
                    throw error
                }
                stage.error = error
            }
            stages.append(stage)
            i = j
        }
        // Target and the stages it needs.
        var targetIndex = stages.count - 1
        if let t = options.target {
            guard let idx = stages.lastIndex(where: { $0.name == t.lowercased() }) else {
                let names = stages.compactMap(\.name)
                let hint = Self.suggestion(t.lowercased(), names).map { " (did you mean \($0)?)" } ?? ""
                throw PlannerError(
                    .invalidValue,
                    "target stage \"\(t)\" could not be found\(hint); stages: \(names.isEmpty ? "none named" : names.joined(separator: ", "))",
                    file: file, key: "--target")
            }
            targetIndex = idx
        }
        var needed: Set<Int> = [targetIndex]
        var queue = [targetIndex]
        while let n = queue.popLast() {
            for d in stages[n].deps where !needed.contains(d) {
                needed.insert(d)
                queue.append(d)
            }
        }
        let kept = stages.filter { needed.contains($0.index) }
        for s in kept { if let e = s.error { throw e } }
        // Build args nobody declared.
        let unused = options.buildArgs.keys.filter { !usedArgs.contains($0) && !Dockerfile.predefinedArgs.contains($0) }
            .sorted()
        if !unused.isEmpty {
            warnings.append(
                "\(file): build-arg\(unused.count > 1 ? "s" : "") \(unused.joined(separator: ", ")) not consumed: no ARG instruction declares \(unused.count > 1 ? "them" : "it")"
            )
        }
        let out = kept.map { s in
            DockerfileStage(
                index: s.index, name: s.name, line: s.line, base: s.base, platform: s.platform, steps: s.steps,
                config: s.delta, dependsOn: s.deps.sorted())
        }
        var imageSet = Set<String>()
        var secretSet = Set<String>()
        for s in kept {
            imageSet.formUnion(images[s.index] ?? [])
            secretSet.formUnion(secrets[s.index] ?? [])
            if s.base.kind == .image || s.base.kind == .layout, let r = s.base.reference { imageSet.insert(r) }
        }
        return ResolvedDockerfile(
            schemaVersion: ResolvedDockerfile.currentSchemaVersion, dockerfile: file, context: ".",
            directives: ast.directives, buildArgs: options.buildArgs, target: options.target,
            platform: options.platform, stages: out, images: imageSet.sorted(), secrets: secretSet.sorted(),
            contextFiles: tree.listing, contextExclude: tree.ignore.patterns, warnings: warnings)
    }

    // MARK: FROM

    mutating func startStage(_ ins: DockerfileInstruction, index: Int, metaArgs: [String: String], names: [String: Int])
        throws(PlannerError) -> ResolverStage
    {
        let f = try flags(ins, ["platform": .string])
        let parts = ins.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 1 || (parts.count == 3 && parts[1].lowercased() == "as") else {
            throw fail(
                .syntax,
                "FROM requires either one or three arguments: FROM [--platform=<platform>] <image> [AS <name>], got \"FROM \(ins.original)\"",
                ins)
        }
        var name: String? = nil
        if parts.count == 3 {
            let n = parts[2].lowercased()
            guard let first = n.first, first.isLetter,
                n.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), n.allSatisfy(\.isASCII)
            else {
                throw fail(
                    .invalidValue,
                    "invalid stage name \"\(parts[2])\": it must start with a letter and contain only letters, digits, -, _ and .",
                    ins)
            }
            if let prev = names[n] {
                warn(
                    "duplicate stage name \"\(n)\" (also stage \(prev) at line \(stages[prev].line)): later references bind this one",
                    line: ins.line)
            }
            name = n
        }
        let image = try expand(parts[0], metaArgs, ins)
        guard !image.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail(.invalidValue, "base name (\(parts[0])) should not be blank", ins)
        }
        var platform: String? = nil
        if let p = f["platform"]?.first {
            platform = try expand(p, metaArgs, ins)
            if platform!.split(separator: "/").count < 2 {
                throw fail(.invalidValue, "--platform=\(platform!): expected os/arch[/variant]", ins)
            }
        }
        var stage = ResolverStage(index: index, name: name, line: ins.line, base: .scratch, platform: platform)
        if image.lowercased() == "scratch" {
            stage.base = .scratch
            stage.rootConfig = .scratch
        } else if let prev = names[image.lowercased()] {
            let parent = stages[prev]
            stage.base = DockerfileBase(kind: .stage, reference: nil, stage: prev)
            stage.chain = parent.chain
            stage.rootConfig = parent.rootConfig
            stage.args = parent.args
            stage.deps.insert(prev)
            if parent.error != nil { stage.error = parent.error }
        } else if image.hasPrefix("oci-layout:") || image.hasPrefix("oci:") {
            stage.base = DockerfileBase(kind: .layout, reference: image, stage: nil)
            stage.rootConfig = options.baseImages[image]
        } else {
            if let problem = Self.referenceProblem(image) {
                throw fail(.invalidValue, "FROM \(image): \(problem)", ins)
            }
            stage.base = DockerfileBase(kind: .image, reference: image, stage: nil)
            stage.rootConfig = options.baseImages[image]
        }
        return stage
    }

    /// A light check of an image reference: `[registry/]repo[:tag][@digest]`, repository lower-case.
    static func referenceProblem(_ ref: String) -> String? {
        var rest = Substring(ref)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard digest.hasPrefix("sha256:"), digest.count == 71, digest.dropFirst(7).allSatisfy(\.isHexDigit) else {
                return "invalid digest \"\(digest)\" (expected sha256:<64 hex digits>)"
            }
            rest = rest[..<at]
        }
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let tag = rest[rest.index(after: colon)...]
            guard !tag.isEmpty, tag.count <= 128,
                tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) })
            else {
                return "invalid tag \"\(tag)\""
            }
            rest = rest[..<colon]
        }
        let comps = rest.split(separator: "/", omittingEmptySubsequences: false)
        for (k, c) in comps.enumerated() {
            let isRegistry = k == 0 && comps.count > 1 && (c.contains(".") || c.contains(":") || c == "localhost")
            if isRegistry { continue }
            guard !c.isEmpty, c.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) })
            else {
                return "invalid reference format: repository name must be lowercase (\"\(ref)\")"
            }
        }
        return nil
    }

    /// ONBUILD triggers of the base (an earlier stage's config, or a known base image config).
    mutating func runTriggers(_ stage: inout ResolverStage, metaArgs: [String: String], names: [String: Int])
        throws(PlannerError)
    {
        let triggers = stage.base.kind == .stage ? (stage.chain.onBuild ?? []) : (stage.rootConfig?.onBuild ?? [])
        guard !triggers.isEmpty else { return }
        let line = stage.line
        for t in triggers {
            var ins = try DockerfileParser.parseLogical(
                t, line: line, file: file, escape: Character(ast.directives.escape))
            ins.endLine = line
            try dispatch(ins, &stage, metaArgs: metaArgs, declaredMeta: [], names: names, trigger: true)
        }
        // Triggers run once: the new image does not inherit them (`config(ofStage:)` drops the base's OnBuild).
        stage.chain.onBuild = nil
    }

    // MARK: stage environment

    /// Env for substitution: the root image's Env, the chain's ENV, and args (ENV wins over ARG).
    func env(_ s: ResolverStage) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in s.args { if let v { out[k] = v } }
        var rootEnv = s.rootConfig?.env ?? []
        if s.rootConfig != nil && !rootEnv.contains(where: { $0.hasPrefix("PATH=") }) {
            rootEnv += DockerfileImageConfig.scratch.env!
        }
        let envList = DockerfileImageConfig.applyEnv(s.chain.env ?? [], to: rootEnv)
        for kv in envList {
            let p = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[String(p[0])] = p.count > 1 ? String(p[1]) : ""
        }
        return out
    }

    func workdir(_ s: ResolverStage) -> String { s.chain.workingDir ?? s.rootConfig?.workingDir ?? "/" }
    func shell(_ s: ResolverStage) -> [String] { s.chain.shell ?? s.rootConfig?.shell ?? Dockerfile.defaultShell }

    mutating func record(
        _ s: inout ResolverStage, _ ins: DockerfileInstruction, kind: DockerfileStep.Kind,
        config: DockerfileConfigDelta? = nil,
        run: DockerfileRun? = nil, copy: DockerfileCopy? = nil, workdir: String? = nil
    ) {
        if let c = config {
            s.delta = s.delta.merged(with: c)
            s.chain = s.chain.merged(with: c)
        }
        s.steps.append(
            DockerfileStep(
                kind: kind, line: ins.line, instruction: ins.keyword + (ins.original.isEmpty ? "" : " " + ins.original),
                run: run, copy: copy, workdir: workdir, config: config))
    }

    // MARK: instructions

    mutating func dispatch(
        _ ins: DockerfileInstruction, _ s: inout ResolverStage, metaArgs: [String: String], declaredMeta: Set<String>,
        names: [String: Int], trigger: Bool
    ) throws(PlannerError) {
        if ins.keyword != "RUN" && ins.keyword != "COPY" && ins.keyword != "ADD" && !ins.heredocs.isEmpty {
            throw fail(.syntax, "\(ins.keyword) does not take heredocs", ins)
        }
        switch ins.keyword {
        case "FROM":
            throw fail(.syntax, "FROM is not allowed as an ONBUILD trigger", ins)
        case "ARG":
            _ = try flags(ins, [:])
            for (name, def) in try argPairs(ins) {
                usedArgs.insert(name)
                var value: String? = options.buildArgs[name]
                if value == nil, let def { value = try expand(def, env(s), ins) }
                if value == nil && def == nil {
                    if declaredMeta.contains(name) || automaticArgs[name] != nil { value = metaArgs[name] }
                }
                s.args.removeAll { $0.0 == name }
                s.args.append((name, value))
            }
        case "ENV":
            _ = try flags(ins, [:])
            let pairs = try nameValues(ins, env: env(s), legacySingle: true)
            var delta = DockerfileConfigDelta()
            delta.env = DockerfileImageConfig.applyEnv(pairs.map { "\($0.0)=\($0.1)" }, to: [])
            record(&s, ins, kind: .config, config: delta)
        case "LABEL":
            _ = try flags(ins, [:])
            let pairs = try nameValues(ins, env: env(s), legacySingle: true)
            var delta = DockerfileConfigDelta()
            var labels: [String: String] = [:]
            for (k, v) in pairs { labels[k] = v }
            delta.labels = labels
            record(&s, ins, kind: .config, config: delta)
        case "MAINTAINER":
            _ = try flags(ins, [:])
            guard !ins.arguments.isEmpty else { throw fail(.syntax, "MAINTAINER requires exactly one argument", ins) }
            warn(
                "MAINTAINER is deprecated; it sets the image author (use LABEL org.opencontainers.image.authors=…)",
                line: ins.line)
            var delta = DockerfileConfigDelta()
            delta.author = ins.arguments
            record(&s, ins, kind: .config, config: delta)
        case "EXPOSE":
            _ = try flags(ins, [:])
            let specs = try expandWords(ins.arguments, env(s), ins)
            guard !specs.isEmpty else { throw fail(.syntax, "EXPOSE requires at least one argument", ins) }
            var ports: [String] = []
            for spec in specs {
                let (p, notes) = try Self.ports(spec, ins: ins, fail: fail)
                ports += p
                for n in notes { warn(n, line: ins.line) }
            }
            var delta = DockerfileConfigDelta()
            delta.exposedPorts = Array(Set(ports)).sorted()
            record(&s, ins, kind: .config, config: delta)
        case "VOLUME":
            _ = try flags(ins, [:])
            let e = env(s)
            var vols: [String] = []
            if let j = ins.json {
                for v in j { vols.append(try expand(v, e, ins)) }
            } else {
                vols = try expandWords(ins.arguments, e, ins)
            }
            guard !vols.isEmpty, !vols.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw fail(.syntax, "VOLUME specified can not be an empty string", ins)
            }
            var delta = DockerfileConfigDelta()
            delta.volumes = Array(Set(vols)).sorted()
            record(&s, ins, kind: .config, config: delta)
        case "USER":
            _ = try flags(ins, [:])
            let u = try expand(ins.arguments, env(s), ins)
            guard !u.isEmpty else { throw fail(.syntax, "USER requires exactly one argument", ins) }
            var delta = DockerfileConfigDelta()
            delta.user = u
            record(&s, ins, kind: .config, config: delta)
        case "WORKDIR":
            _ = try flags(ins, [:])
            let w = try expand(ins.arguments, env(s), ins)
            guard !w.isEmpty else { throw fail(.syntax, "WORKDIR requires exactly one argument", ins) }
            // BuildKit keeps an absolute WORKDIR as written and joins (and cleans) a relative one.
            let dir = w.hasPrefix("/") ? w : DockerfilePaths.join(workdir(s), w)
            var delta = DockerfileConfigDelta()
            delta.workingDir = dir
            record(&s, ins, kind: .workdir, config: delta, workdir: dir)
            s.steps[s.steps.count - 1].user = s.chain.user
        case "STOPSIGNAL":
            _ = try flags(ins, [:])
            let sig = try expand(ins.arguments, env(s), ins)
            guard Self.validSignal(sig) else {
                throw fail(
                    .invalidValue, "STOPSIGNAL \(sig): not a signal (a name like SIGTERM or TERM, or a number)", ins)
            }
            var delta = DockerfileConfigDelta()
            delta.stopSignal = sig
            record(&s, ins, kind: .config, config: delta)
        case "SHELL":
            _ = try flags(ins, [:])
            guard let j = ins.json else {
                throw fail(
                    .syntax,
                    "SHELL requires the arguments to be in JSON form (SHELL [\"executable\", \"parameters\"]), got: \(ins.arguments)",
                    ins)
            }
            guard !j.isEmpty else { throw fail(.syntax, "SHELL requires at least one argument", ins) }
            var delta = DockerfileConfigDelta()
            delta.shell = j
            record(&s, ins, kind: .config, config: delta)
        case "CMD", "ENTRYPOINT":
            _ = try flags(ins, [:])
            let argv = try commandForm(ins, s)
            var delta = DockerfileConfigDelta()
            if ins.keyword == "CMD" {
                delta.cmd = argv
                if s.cmdSet { warn("more than one CMD in the stage: only the last one takes effect", line: ins.line) }
                s.cmdSet = true
            } else {
                delta.entrypoint = argv
                // Docker: ENTRYPOINT resets a CMD the stage did not set itself (inherited from the base).
                if !s.cmdSet { delta.cmd = [] }
            }
            record(&s, ins, kind: .config, config: delta)
        case "HEALTHCHECK":
            let hc = try healthcheck(ins, s)
            var delta = DockerfileConfigDelta()
            delta.healthcheck = hc
            record(&s, ins, kind: .config, config: delta)
        case "ONBUILD":
            guard !ins.arguments.isEmpty else { throw fail(.syntax, "ONBUILD requires at least one argument", ins) }
            let inner = try DockerfileParser.parseLogical(
                ins.arguments, line: ins.line, file: file, escape: Character(ast.directives.escape))
            switch inner.keyword {
            case "ONBUILD": throw fail(.syntax, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", ins)
            case "FROM", "MAINTAINER": throw fail(.syntax, "\(inner.keyword) isn't allowed as an ONBUILD trigger", ins)
            default: break
            }
            var delta = DockerfileConfigDelta()
            delta.onBuild = [ins.arguments]
            record(&s, ins, kind: .config, config: delta)
        case "RUN":
            let run = try runStep(ins, &s, names: names)
            record(&s, ins, kind: .run, run: run)
        case "COPY", "ADD":
            let copy = try copyStep(ins, &s, names: names)
            record(&s, ins, kind: ins.keyword == "COPY" ? .copy : .add, copy: copy)
        default:
            throw fail(.unknownInstruction, "unknown instruction: \(ins.keyword)", ins)
        }
        _ = trigger
    }

    /// ARG name[=default] …, defaults as written (substituted only when no build arg gives the value).
    func argPairs(_ ins: DockerfileInstruction) throws(PlannerError) -> [(String, String?)] {
        let ws = Self.rawWords(ins.arguments, escape: words.escape)
        guard !ws.isEmpty else { throw fail(.syntax, "ARG requires at least one argument", ins) }
        var out: [(String, String?)] = []
        for w in ws {
            if let eq = w.firstIndex(of: "=") {
                let name = String(w[..<eq])
                guard ConfigReader.isEnvName(name) else {
                    throw fail(.invalidValue, "ARG: invalid name \"\(name)\"", ins)
                }
                out.append((name, String(w[w.index(after: eq)...])))
            } else {
                guard ConfigReader.isEnvName(w) else { throw fail(.invalidValue, "ARG: invalid name \"\(w)\"", ins) }
                out.append((w, nil))
            }
        }
        return out
    }

    /// ENV / LABEL: `k=v k2="v 2"` or the legacy `key value with spaces`; values substituted with `env` (the
    /// environment before the instruction: names set in the same instruction are not visible yet).
    func nameValues(_ ins: DockerfileInstruction, env: [String: String], legacySingle: Bool) throws(PlannerError) -> [(
        String, String
    )] {
        let ws = Self.rawWords(ins.arguments, escape: words.escape)
        guard !ws.isEmpty else { throw fail(.syntax, "\(ins.keyword) requires at least one argument", ins) }
        if !ws[0].contains("=") {
            // Legacy form: the first word is the key, the rest of the line the value.
            let trimmed = ins.arguments
            let keyEnd = trimmed.firstIndex { $0 == " " || $0 == "\t" } ?? trimmed.endIndex
            let key = String(trimmed[..<keyEnd])
            let rest = trimmed[keyEnd...].trimmingCharacters(in: .whitespaces)
            guard !rest.isEmpty else {
                throw fail(.syntax, "\(ins.keyword) \(key): missing a value (use \(key)=<value>)", ins)
            }
            let k = try expand(key, env, ins)
            return [(k, try expand(rest, env, ins))]
        }
        var out: [(String, String)] = []
        for w in ws {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw fail(
                    .syntax,
                    "\(ins.keyword): \"\(w)\" is not name=value (mixing the legacy `\(ins.keyword) key value` form with name=value is not allowed)",
                    ins)
            }
            let k = try expand(String(w[..<eq]), env, ins)
            guard !k.isEmpty else { throw fail(.syntax, "\(ins.keyword): an empty name", ins) }
            out.append((k, try expand(String(w[w.index(after: eq)...]), env, ins)))
        }
        return out
    }

    /// Words split at unquoted whitespace, quotes and escapes kept (Docker's parseWords).
    static func rawWords(_ text: String, escape: Character) -> [String] {
        var out: [String] = []
        var cur = ""
        var quote: Character? = nil
        var escaped = false
        for c in text {
            if escaped {
                cur.append(c)
                escaped = false
                continue
            }
            if c == escape {
                cur.append(c)
                escaped = true
                continue
            }
            if let q = quote {
                cur.append(c)
                if c == q { quote = nil }
                continue
            }
            if c == "\"" || c == "'" {
                quote = c
                cur.append(c)
                continue
            }
            if c == " " || c == "\t" {
                if !cur.isEmpty {
                    out.append(cur)
                    cur = ""
                }
                continue
            }
            cur.append(c)
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// `[ip:][hostport:]port[-end][/proto]` → `port/proto` keys, one per port of a range; host parts and an
    /// upper-case protocol are accepted with a note (BuildKit's ExposeInvalidFormat / ExposeProtoCasing lints).
    static func ports(
        _ spec: String, ins: DockerfileInstruction,
        fail: (PlannerError.Code, String, DockerfileInstruction) -> PlannerError
    ) throws(PlannerError) -> ([String], [String]) {
        var notes: [String] = []
        let colonParts = spec.split(separator: ":", omittingEmptySubsequences: false)
        let container = String(colonParts.last ?? "")
        if colonParts.count > 1 {
            notes.append(
                "EXPOSE \(spec): an IP address or host port has no effect in a Dockerfile; only the container port is exposed (publish with `run -p`)"
            )
        }
        var body = container
        var proto = "tcp"
        if let slash = container.firstIndex(of: "/") {
            let raw = String(container[container.index(after: slash)...])
            body = String(container[..<slash])
            if !raw.isEmpty { proto = raw.lowercased() }
            if raw != raw.lowercased() {
                notes.append("EXPOSE \(spec): protocol should be lower case (\(raw.lowercased()))")
            }
        }
        guard ["tcp", "udp", "sctp"].contains(proto) else {
            throw fail(.invalidValue, "EXPOSE \(spec): invalid proto: \(proto) (tcp, udp or sctp)", ins)
        }
        let range = body.split(separator: "-", omittingEmptySubsequences: false)
        guard range.count <= 2, let lo = Int(range[0]), let hi = Int(range.count == 2 ? range[1] : range[0]),
            (0...65535).contains(lo), (0...65535).contains(hi), lo <= hi
        else {
            throw fail(.invalidValue, "EXPOSE \(spec): invalid port (a number 0-65535 or a range like 8000-8010)", ins)
        }
        return ((lo...hi).map { "\($0)/\(proto)" }, notes)
    }

    static func validSignal(_ s: String) -> Bool {
        if let n = Int(s) { return n > 0 }
        var name = s.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        let names: Set<String> = [
            "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
            "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
            "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "UNUSED"
        ]
        if names.contains(name) { return true }
        for base in ["RTMIN", "RTMAX"] where name.hasPrefix(base) {
            let rest = name.dropFirst(base.count)
            if rest.isEmpty { return true }
            if let sign = rest.first, sign == "+" || sign == "-", let n = Int(rest.dropFirst()), n >= 0, n <= 15 {
                return true
            }
        }
        return false
    }

    /// CMD / ENTRYPOINT / HEALTHCHECK CMD: exec form, or the shell form wrapped in the current SHELL.
    mutating func commandForm(_ ins: DockerfileInstruction, _ s: ResolverStage) throws(PlannerError) -> [String] {
        if let j = ins.json { return j }
        if ins.looksLikeJSON {
            warn(
                "\(ins.keyword) looks like exec form but is not a JSON array of strings; Docker runs it with the shell (use double quotes for exec form)",
                line: ins.line)
        }
        guard !ins.arguments.isEmpty else { throw fail(.syntax, "\(ins.keyword) requires at least one argument", ins) }
        return shell(s) + [ins.arguments]
    }

    static func duration(_ text: String) -> Int64? {
        // Go's time.ParseDuration subset: sequences of <number><unit>, units ns us µs ms s m h.
        if text == "0" { return 0 }
        var total: Double = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let num = rest.prefix { $0.isNumber || $0 == "." }
            guard !num.isEmpty, let value = Double(num) else { return nil }
            rest = rest.dropFirst(num.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        return Int64(total)
    }

    mutating func healthcheck(_ ins: DockerfileInstruction, _ s: ResolverStage) throws(PlannerError)
        -> DockerfileHealthcheck
    {
        let f = try flags(
            ins,
            [
                "interval": .string, "timeout": .string, "start-period": .string, "start-interval": .string,
                "retries": .string
            ])
        let first = ins.arguments.prefix { $0 != " " && $0 != "\t" }.uppercased()
        if first == "NONE" {
            guard ins.flags.isEmpty, ins.arguments.uppercased() == "NONE" else {
                throw fail(.syntax, "HEALTHCHECK NONE takes no other arguments or flags", ins)
            }
            return DockerfileHealthcheck(
                test: ["NONE"], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0)
        }
        guard first == "CMD" else {
            throw fail(.syntax, "HEALTHCHECK expects NONE or CMD <command>, got \"\(ins.arguments)\"", ins)
        }
        let rest = ins.arguments.dropFirst(3).trimmingCharacters(in: .whitespaces)
        var sub = ins
        sub.arguments = rest
        sub.json = nil
        sub.looksLikeJSON = false
        if rest.hasPrefix("[") {
            if let data = rest.data(using: .utf8), let a = try? JSONSerialization.jsonObject(with: data) as? [Any],
                a.allSatisfy({ $0 is String })
            {
                sub.json = a.map { $0 as! String }
            } else {
                sub.looksLikeJSON = true
            }
        }
        let test: [String]
        if let j = sub.json {
            guard !j.isEmpty else { throw fail(.syntax, "HEALTHCHECK CMD requires a command", ins) }
            test = ["CMD"] + j
        } else {
            guard !rest.isEmpty else { throw fail(.syntax, "HEALTHCHECK CMD requires a command", ins) }
            if sub.looksLikeJSON {
                warn(
                    "HEALTHCHECK CMD looks like exec form but is not a JSON array of strings; it runs with the shell",
                    line: ins.line)
            }
            test = ["CMD-SHELL", rest]
        }
        func dur(_ name: String) throws(PlannerError) -> Int64 {
            guard let v = f[name]?.first else { return 0 }
            guard let d = Self.duration(v), d >= 0 else {
                throw fail(.invalidValue, "--\(name)=\(v): not a duration (like 30s, 1m30s)", ins)
            }
            if d != 0 && d < 1_000_000 { throw fail(.invalidValue, "--\(name)=\(v): must be 0 or at least 1ms", ins) }
            return d
        }
        var retries = 0
        if let r = f["retries"]?.first {
            guard let n = Int(r), n >= 0 else {
                throw fail(.invalidValue, "--retries=\(r): must be a non-negative integer", ins)
            }
            retries = n
        }
        return DockerfileHealthcheck(
            test: test, interval: try dur("interval"), timeout: try dur("timeout"),
            startPeriod: try dur("start-period"), startInterval: try dur("start-interval"), retries: retries)
    }

    // MARK: --from

    /// A `--from`/`from=` value: a stage (name or index of an earlier stage) or an image reference.
    mutating func sourceRef(
        _ value: String, _ s: inout ResolverStage, names: [String: Int], ins: DockerfileInstruction, what: String
    ) throws(PlannerError) -> DockerfileSourceRef {
        guard !value.isEmpty else { throw fail(.invalidValue, "\(what): empty value", ins) }
        if value.contains("$") {
            throw fail(
                .invalidValue,
                what == "--from"
                    ? "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"
                    : "'from' doesn't support variable expansion, define alias stage instead", ins)
        }
        if names[value.lowercased()] == nil,
            let later = allStageNames.indices.first(where: { $0 > s.index && allStageNames[$0] == value.lowercased() })
        {
            throw fail(
                .invalidValue,
                "cannot copy from stage \"\(value)\", it needs to be defined before current stage (it is stage \(later), this is stage \(s.index))",
                ins)
        }
        if let n = Int(value) {
            guard n >= 0 && n < s.index else {
                throw fail(
                    .invalidValue,
                    "\(what)=\(value): stage index \(value) is not an earlier stage (this is stage \(s.index))", ins)
            }
            s.deps.insert(n)
            return DockerfileSourceRef(stage: n, image: nil)
        }
        if let n = names[value.lowercased()] {
            guard n != s.index else { throw fail(.invalidValue, "\(what)=\(value) refers to the current stage", ins) }
            s.deps.insert(n)
            return DockerfileSourceRef(stage: n, image: nil)
        }
        if let problem = Self.referenceProblem(value) {
            throw fail(
                .invalidValue, "\(what)=\(value): not an earlier stage and not an image reference (\(problem))", ins)
        }
        images[s.index, default: []].insert(value)
        return DockerfileSourceRef(stage: nil, image: value)
    }

    // MARK: RUN

    mutating func runStep(_ ins: DockerfileInstruction, _ s: inout ResolverStage, names: [String: Int])
        throws(PlannerError) -> DockerfileRun
    {
        let f = try flags(ins, ["mount": .repeated, "network": .string, "security": .string])
        let e = env(s)
        var network = DockerfileRun.Network.default
        if let n = f["network"]?.first {
            guard let v = DockerfileRun.Network(rawValue: n) else {
                throw fail(.invalidValue, "--network=\(n): expected default, none or host", ins)
            }
            network = v
        }
        if let sec = f["security"]?.first {
            switch sec {
            case "sandbox": break
            case "insecure":
                throw fail(
                    .invalidValue, "--security=insecure: ociforge does not grant extra privileges to build steps", ins)
            default: throw fail(.invalidValue, "--security=\(sec): expected sandbox or insecure", ins)
            }
        }
        var mounts: [DockerfileMount] = []
        for m in f["mount"] ?? [] { mounts.append(try mount(m, env: e, &s, names: names, ins: ins)) }
        let sh = shell(s)
        let form: DockerfileRun.Form
        let argv: [String]
        var files: [DockerfileInlineFile] = []
        if !ins.heredocs.isEmpty {
            form = .heredoc
            // `RUN <<EOF` alone: the body is the script (run as a file when it starts with `#!`); otherwise the
            // shell reads the heredocs itself.
            if ins.heredocs.count == 1, ins.arguments == ins.heredocs[0].word, ins.heredocs[0].content.hasPrefix("#!") {
                let path = "/dev/pipes/" + ins.heredocs[0].name
                files.append(DockerfileInlineFile(destination: path, content: ins.heredocs[0].content, mode: "0755"))
                argv = sh + [path]
            } else if ins.heredocs.count == 1, ins.arguments == ins.heredocs[0].word {
                argv = sh + [ins.heredocs[0].content]
            } else {
                var script = ins.arguments
                for h in ins.heredocs { script += "\n" + h.raw + h.name }
                argv = sh + [script]
            }
        } else if let j = ins.json {
            guard !j.isEmpty else { throw fail(.syntax, "RUN requires a command", ins) }
            form = .exec
            argv = j
        } else {
            if ins.looksLikeJSON {
                warn(
                    "RUN looks like exec form but is not a JSON array of strings; it runs with the shell",
                    line: ins.line)
            }
            guard !ins.arguments.isEmpty else { throw fail(.syntax, "RUN requires a command", ins) }
            form = .shell
            argv = sh + [ins.arguments]
        }
        // Args in scope, unless ENV sets the same name; proxy build args without declaration too.
        let envList = s.chain.env ?? []
        let envNames = Set(
            DockerfileImageConfig.applyEnv(envList, to: s.rootConfig?.env ?? []).map {
                String($0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
            })
        var args: [String] = []
        for (k, v) in s.args where !envNames.contains(k) { if let v { args.append("\(k)=\(v)") } }
        for k in Dockerfile.predefinedArgs.sorted() where !s.args.contains(where: { $0.0 == k }) {
            if let v = options.buildArgs[k] { args.append("\(k)=\(v)") }
        }
        return DockerfileRun(
            form: form, argv: argv, env: envList, args: args, user: s.chain.user,
            workdir: s.chain.workingDir ?? s.rootConfig?.workingDir,
            mounts: mounts, files: files, network: network)
    }

    mutating func mount(
        _ spec: String, env: [String: String], _ s: inout ResolverStage, names: [String: Int],
        ins: DockerfileInstruction
    ) throws(PlannerError) -> DockerfileMount {
        var fields: [(String, String?)] = []
        for part in spec.split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            if let eq = p.firstIndex(of: "=") {
                var v = String(p[p.index(after: eq)...])
                if v.count >= 2, let q = v.first, q == "\"" || q == "'", v.last == q {
                    v = String(v.dropFirst().dropLast())
                }
                let key = p[..<eq].lowercased()
                // Option values are substituted, except from= (BuildKit refuses variables there).
                if key != "from" { v = try expand(v, env, ins) }
                fields.append((key, v))
            } else {
                fields.append((p.lowercased(), nil))
            }
        }
        let typeName = fields.first { $0.0 == "type" }?.1 ?? "bind"
        if typeName == "ssh" {
            throw fail(
                .offline,
                "--mount=type=ssh: ociforge has no SSH agent to forward into build steps; vendor the dependency into the context or use a secret mount",
                ins)
        }
        guard let type = DockerfileMount.MountType(rawValue: typeName) else {
            throw fail(.invalidValue, "--mount: unknown type \"\(typeName)\" (bind, cache, secret, tmpfs)", ins)
        }
        var m = DockerfileMount(
            type: type, target: "", id: nil, source: nil, from: nil, sharing: nil,
            readOnly: type == .bind || type == .secret,
            mode: nil, uid: nil, gid: nil, required: false, env: nil, size: nil)
        func bool(_ v: String?, _ key: String) throws(PlannerError) -> Bool {
            guard let v else { return true }
            switch v.lowercased() {
            case "true", "1": return true
            case "false", "0": return false
            default: throw fail(.invalidValue, "--mount \(key)=\(v): expected true or false", ins)
            }
        }
        var target: String? = nil
        for (k, v) in fields {
            func value() throws(PlannerError) -> String {
                guard let v, !v.isEmpty else { throw fail(.invalidValue, "--mount: \(k) needs a value (\(k)=…)", ins) }
                return v
            }
            switch k {
            case "type": continue
            case "target", "dst", "destination": target = try value()
            case "source", "src":
                if type == .secret { m.id = try value() } else { m.source = try value() }
            case "from":
                guard type == .bind || type == .cache else {
                    throw fail(.invalidValue, "--mount: from= is only for bind and cache mounts", ins)
                }
                m.from = try sourceRef(try value(), &s, names: names, ins: ins, what: "--mount from")
            case "id": m.id = try value()
            case "sharing":
                guard type == .cache, let sh = DockerfileMount.Sharing(rawValue: try value()) else {
                    throw fail(
                        .invalidValue,
                        "--mount sharing=\(v ?? ""): only cache mounts take sharing (shared, private, locked)", ins)
                }
                m.sharing = sh
            case "ro", "readonly": m.readOnly = try bool(v, k)
            case "rw", "readwrite": m.readOnly = !(try bool(v, k))
            case "required":
                guard type == .secret else {
                    throw fail(.invalidValue, "--mount: required is only for secret mounts", ins)
                }
                m.required = try bool(v, k)
            case "mode":
                let mv = try value()
                guard mv.allSatisfy({ ("0"..."7").contains($0) }), let n = Int(mv, radix: 8), n <= 0o7777 else {
                    throw fail(.invalidValue, "--mount mode=\(mv): expected an octal mode like 0755", ins)
                }
                m.mode = String(format: "%04o", n)
            case "uid", "gid":
                guard let n = Int(try value()), n >= 0 else {
                    throw fail(.invalidValue, "--mount \(k)=\(v ?? ""): expected a non-negative integer", ins)
                }
                if k == "uid" { m.uid = n } else { m.gid = n }
            case "env":
                guard type == .secret else { throw fail(.invalidValue, "--mount: env= is only for secret mounts", ins) }
                m.env = try value()
            case "size":
                guard type == .tmpfs, let n = Self.byteSize(try value()) else {
                    throw fail(
                        .invalidValue, "--mount size=\(v ?? ""): only tmpfs mounts take a size (bytes, or with k/m/g)",
                        ins)
                }
                m.size = n
            default:
                throw fail(.unknownFlag, "--mount: unknown option \"\(k)\" for type=\(type.rawValue)", ins)
            }
        }
        if let t = target {
            m.target = DockerfilePaths.join(workdir(s), t)
            if m.target == "/" { throw fail(.invalidValue, "invalid mount target \"\(t)\"", ins) }
        }
        switch type {
        case .secret:
            if m.id == nil, let t = target { m.id = DockerfilePaths.basename(t) }
            guard let id = m.id else { throw fail(.invalidValue, "--mount=type=secret needs id= or target=", ins) }
            if target == nil && m.env == nil { m.target = "/run/secrets/" + id }
            if target == nil && m.env != nil { m.target = "" }
            secrets[s.index, default: []].insert(id)
        case .cache:
            guard target != nil else { throw fail(.invalidValue, "--mount=type=cache needs target=", ins) }
            if m.id == nil { m.id = m.target }
            if m.sharing == nil { m.sharing = .shared }
        case .bind, .tmpfs:
            guard target != nil else { throw fail(.invalidValue, "--mount=type=\(type.rawValue) needs target=", ins) }
            if type == .bind {
                let src = DockerfilePaths.contextRelative(m.source ?? ".")
                if m.from == nil {
                    guard tree.entries[src] != nil else {
                        throw fail(
                            .missingSource,
                            "--mount=type=bind source \"\(m.source ?? ".")\" is not in the build context (or is excluded by \(tree.ignoreFile ?? ".dockerignore"))",
                            ins)
                    }
                }
                m.source = m.from == nil ? (src.isEmpty ? "." : src) : DockerfilePaths.clean("/" + (m.source ?? "/"))
            }
        }
        return m
    }

    static func byteSize(_ s: String) -> Int64? {
        let lower = s.lowercased()
        let units: [(String, Int64)] = [
            ("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
            ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1)
        ]
        for (u, mult) in units where lower.hasSuffix(u) {
            guard let n = Int64(lower.dropLast(u.count)) else { return nil }
            return n * mult
        }
        return Int64(lower)
    }

    // MARK: COPY / ADD

    mutating func copyStep(_ ins: DockerfileInstruction, _ s: inout ResolverStage, names: [String: Int])
        throws(PlannerError) -> DockerfileCopy
    {
        let isAdd = ins.keyword == "ADD"
        var allowed: [String: FlagKind] = ["chown": .string, "chmod": .string, "link": .bool, "exclude": .repeated]
        if isAdd {
            allowed["checksum"] = .string
            allowed["keep-git-dir"] = .bool
            allowed["unpack"] = .bool
        } else {
            allowed["from"] = .string
            allowed["parents"] = .bool
        }
        let f = try flags(ins, allowed)
        let e = env(s)
        var from: DockerfileSourceRef? = nil
        if let v = f["from"]?.first { from = try sourceRef(v, &s, names: names, ins: ins, what: "--from") }
        let chown = try f["chown"]?.first.map { v throws(PlannerError) in try expand(v, e, ins) }
        let chmod = try f["chmod"]?.first.map { v throws(PlannerError) in try expand(v, e, ins) }
        if let c = chmod, !Self.validChmod(c) {
            throw fail(
                .invalidValue,
                "invalid chmod parameter: '\(c)'. it should be octal string and between 0 and 07777 (or symbolic, like u+x,g-w)",
                ins)
        }
        if let c = chown,
            c.isEmpty || c.hasPrefix(":") || c.split(separator: ":", omittingEmptySubsequences: false).count > 2
        {
            throw fail(.invalidValue, "--chown=\(c): expected user[:group] (names or ids)", ins)
        }
        var args: [String]
        if let j = ins.json {
            args = []
            for a in j { args.append(try expand(a, e, ins)) }
        } else {
            args = []
            for w in ins.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                // Heredoc markers are kept as written.
                if DockerfileParser.heredocMarker(String(w)) != nil {
                    args.append(String(w))
                    continue
                }
                args.append(try expand(String(w), e, ins))
            }
        }
        guard args.count >= 2 else {
            throw fail(.syntax, "\(ins.keyword) requires at least two arguments: \(ins.keyword) <src>... <dest>", ins)
        }
        let rawDest = args.removeLast()
        let sources = args
        if isAdd, f["checksum"] != nil || f["keep-git-dir"] != nil {
            throw fail(
                .offline,
                "ADD --checksum / --keep-git-dir apply to remote sources: ociforge builds offline; download the file into the context instead",
                ins)
        }
        let wd = workdir(s)
        var dest = rawDest.hasPrefix("/") ? rawDest : (wd.hasSuffix("/") ? wd : wd + "/") + rawDest
        let slash = rawDest.hasSuffix("/") || rawDest == "." || rawDest.hasSuffix("/.")
        dest = DockerfilePaths.clean(dest)
        if slash && dest != "/" { dest += "/" }
        let heredocs = Dictionary(ins.heredocs.map { ($0.word, $0) }, uniquingKeysWith: { a, _ in a })
        let parents = f["parents"]?.first == "true"
        if sources.count > 1 && !slash && !parents {
            throw fail(
                .invalidValue,
                "When using \(ins.keyword) with more than one source file, the destination must be a directory and end with a / (got \"\(rawDest)\")",
                ins)
        }
        var excludes = DockerignoreMatcher()
        let excludeList = f["exclude"] ?? []
        if !excludeList.isEmpty {
            excludes = try DockerignoreMatcher(text: excludeList.joined(separator: "\n"), file: file)
        }
        let unpack = f["unpack"]?.first != "false"
        var copy = DockerfileCopy(
            from: from, sources: sources, destination: dest, destinationIsDirectory: slash,
            entries: [], inline: [], chown: chown, chmod: chmod, link: f["link"]?.first == "true",
            exclude: excludeList, parents: parents)
        let destDir = dest.hasSuffix("/") ? dest : dest + "/"
        for src in sources {
            if let h = heredocs[src] {
                var content = h.content
                if h.expand {
                    do { content = try words.heredoc(h.content, e) } catch {
                        throw fail(.invalidValue, "\(ins.keyword) <<\(h.name): \(error.message)", ins)
                    }
                }
                let target = slash ? destDir + h.name : dest
                copy.inline.append(
                    DockerfileInlineFile(
                        destination: target, content: content, mode: chmod.flatMap { Self.octal($0) } ?? "0644"))
                continue
            }
            if Self.isRemote(src) {
                guard isAdd else {
                    throw fail(
                        .invalidValue,
                        "source can't be a URL for COPY (\(src)); ADD fetches URLs, but ociforge builds offline: download the file into the context instead",
                        ins)
                }
                throw fail(
                    .offline, "ADD \(src): ociforge builds offline; download the file into the context instead", ins)
            }
            guard from == nil else { continue }
            do throws(DockerfileCopyRules.Failure) {
                let found = try DockerfileCopyRules.entries(
                    source: src, destination: dest, slash: slash, isAdd: isAdd && unpack, tree: tree,
                    keyword: ins.keyword, origin: "the build context", exclude: excludes, parents: parents)
                if found.entries.isEmpty {
                    warn(
                        "\(ins.keyword) \(src): the pattern matches no file in the build context; nothing is copied for it",
                        line: ins.line)
                }
                if found.directory { copy.destinationIsDirectory = true }
                copy.entries += found.entries
            } catch {
                throw fail(error.code, error.message, ins)
            }
        }
        return copy
    }

    /// The closest candidate within edit distance 2 (BuildKit's "did you mean" hints).
    static func suggestion(_ word: String, _ candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in 1...max(b.count, 1) where !b.isEmpty {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return a.isEmpty ? b.count : prev[b.count]
        }
        let w = Array(word.lowercased())
        var best: (String, Int)? = nil
        for c in candidates.sorted() {
            let d = distance(w, Array(c.lowercased()))
            guard d <= 2, d < w.count else { continue }
            if best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    static func isRemote(_ s: String) -> Bool {
        let lower = s.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("git@")
            || lower.hasPrefix("git://")
            || lower.hasPrefix("ssh://") || (lower.hasPrefix("github.com/") && lower.contains(".git"))
    }

    static func validChmod(_ s: String) -> Bool {
        if s.allSatisfy({ ("0"..."7").contains($0) }) { return !s.isEmpty && (Int(s, radix: 8) ?? .max) <= 0o7777 }
        for clause in s.split(separator: ",", omittingEmptySubsequences: false) {
            let who = clause.prefix { "ugoa".contains($0) }
            var rest = clause.dropFirst(who.count)
            guard let op = rest.first, "+-=".contains(op) else { return false }
            rest = rest.dropFirst()
            guard rest.allSatisfy({ "rwxXst".contains($0) }) else { return false }
        }
        return true
    }

    static func octal(_ s: String) -> String? {
        guard s.allSatisfy({ ("0"..."7").contains($0) }), let n = Int(s, radix: 8) else { return nil }
        return String(format: "%04o", n)
    }
}
