import Foundation

/// The Planner module: what to build (providers, plan model, config files, merge rules, versions).
public enum PlannerInfo {
    public static let version = "0.1.0"
}

/// Inputs besides the app directory. The Planner never reads the process environment: pass it in `environment`.
public struct PlanOptions: Sendable, Equatable {
    public var installCmd: String?
    public var buildCmd: String?
    public var startCmd: String?
    public var pkgs: [String] = []
    public var apt: [String] = []
    public var libs: [String] = []
    /// `KEY=VALUE` variables from `--env`.
    public var env: [String] = []
    public var configPath: String?
    public var jsonPlan: String?
    public var strict = false
    /// The caller's environment; only NIXPACKS_* and OCIFORGE_* entries are read.
    public var environment: [String: String] = [:]
    public var useGitignore: Bool?
    /// `--app`: the workspace member to build and start (over `app` in ociforge.toml and OCIFORGE_APP).
    public var app: String?
    /// `--user`: the runtime user (`root` opts out of the unprivileged default), over `start.user`.
    public var user: String?
    /// Frozen plan file to use unchanged (default: `ociforge.plan.json` in the app directory, when present).
    public var frozenPlanPath: String?
    /// Ignore any frozen plan (what `freeze` does).
    public var ignoreFrozen = false
    public var strategy: BuildBlock.Strategy?
    public var imageName: String?
    public var imageTag: String?
    public var image: String?
    /// Dockerfile strategy: `--build-arg` values (over the config's `docker.args`), `--target`, `-f` (relative to
    /// the context), the platform, and known base image configs (see `DockerfileOptions`).
    public var buildArgs: [String: String] = [:]
    public var target: String?
    public var dockerfile: String?
    public var platform: String?
    public var baseImages: [String: DockerfileImageConfig] = [:]
    /// `--base`: the build image (`debian:<suite>`), above `[build] base` and the plan's `buildImage`; it selects
    /// the Debian suite whose packages the toolchains come from.
    public var baseImage: String?
    /// Build blocks from a deployment file (lttle / Compartment): each block given replaces the same block of
    /// the app's ociforge.toml.
    public var buildBlocks: BuildBlocks?
    public init() {}
}

public struct DetectedProvider: Sendable, Equatable, Codable {
    public var name: String
    /// The file that selected it (nil when chosen by `providers`).
    public var matchedFile: String?
}

public struct PlanResult: Sendable, Equatable {
    public var plan: ResolvedPlan
    public var warnings: [PlannerWarning]
    public var detected: [DetectedProvider]
    /// The resolved Dockerfile when the strategy is dockerfile (nil for a frozen plan: use
    /// `Planner.resolveDockerfile`).
    public var dockerfile: ResolvedDockerfile? = nil
    /// The `[build]` block in effect (ociforge.toml, a deployment file): settings of the build itself, such as
    /// its registry caches, that are not part of the plan.
    public var build: BuildBlock? = nil
}

public enum Planner {
    public static let frozenFileName = "ociforge.plan.json"

    /// Resolve the plan for an app directory.
    public static func plan(appDirectory: String, options: PlanOptions) throws(PlannerError) -> PlanResult {
        if !options.ignoreFrozen {
            let path = options.frozenPlanPath ?? (appDirectory + "/" + frozenFileName)
            if options.frozenPlanPath != nil || FileManager.default.fileExists(atPath: path) {
                var result = try readFrozen(path: path, display: options.frozenPlanPath ?? frozenFileName)
                if options.installCmd != nil || options.buildCmd != nil || options.startCmd != nil
                    || !options.pkgs.isEmpty
                    || !options.apt.isEmpty || !options.env.isEmpty
                {
                    result.warnings.append(
                        PlannerWarning(
                            "a frozen plan is used unchanged: command-line overrides are ignored; run `ociforge freeze` again to change it",
                            file: options.frozenPlanPath ?? frozenFileName))
                }
                return result
            }
        }
        var session = PlanSession(root: appDirectory, options: options)
        return try session.run()
    }

    /// Only the detection step: which providers would plan this app.
    public static func detect(appDirectory: String, options: PlanOptions) throws(PlannerError) -> [DetectedProvider] {
        var session = PlanSession(root: appDirectory, options: options)
        return try session.selectProviders().map { DetectedProvider(name: $0.name, matchedFile: $0.matched) }
    }

    /// Resolve and pin: every toolchain/apt package Debian versions are known for is pinned `pkg=version`.
    public static func freeze(appDirectory: String, options: PlanOptions) throws(PlannerError) -> PlanResult {
        var opts = options
        opts.ignoreFrozen = true
        var result = try plan(appDirectory: appDirectory, options: opts)
        result.plan = pin(result.plan)
        return result
    }

    /// Debian packages of the plan's suite pinned `pkg=version` (backports ones lose their `/suite`: the version
    /// selects them). Upstream toolchains keep `upstream.pin` as the engine fills it (nil here: no index is read).
    static func pin(_ plan: ResolvedPlan) -> ResolvedPlan {
        var pins: [String: String] = [:]
        let suite = Debian.suites[plan.suite]
        for options in suite?.toolchains.values.map({ $0 }) ?? [] {
            for chain in options {
                for (k, v) in chain.pins where pins[k] == nil || chain.suite != suite?.name { pins[k] = v }
            }
        }
        // Each toolchain's own choice wins for the packages it names (go from backports vs main).
        var chosen: [String: String] = [:]
        for t in plan.toolchains where t.source == .debian {
            let option = suite?.toolchains[t.name]?.first { $0.version == t.version && $0.suite == t.debian?.suite }
            for (k, v) in option?.pins ?? [:] { chosen[k] = v }
        }
        let pinned: ([String]) -> [String] = {
            $0.map { p in
                if p.contains("=") { return p }
                let name = p.split(separator: "/").first.map(String.init) ?? p
                return (chosen[name] ?? pins[name]).map { "\(name)=\($0)" } ?? p
            }
        }
        var out = plan
        out.frozen = true
        out.toolchains = plan.toolchains.map {
            var t = $0
            t.packages = pinned(t.packages)
            return t
        }
        out.steps = plan.steps.map {
            var s = $0
            s.aptPackages = pinned(s.aptPackages)
            return s
        }
        if var d = out.deploy {
            d.aptPackages = pinned(d.aptPackages)
            out.deploy = d
        }
        return out
    }

    static func readFrozen(path: String, display: String) throws(PlannerError) -> PlanResult {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw PlannerError(.io, "cannot read the frozen plan", file: display)
        }
        _ = try ConfigParser.parse(text, format: .json, file: display)  // syntax errors with line and column
        do {
            let plan = try JSONDecoder().decode(ResolvedPlan.self, from: data)
            guard plan.schemaVersion == ResolvedPlan.currentSchemaVersion else {
                throw PlannerError(
                    .invalidValue,
                    "frozen plan schema \(plan.schemaVersion) is not supported (expected \(ResolvedPlan.currentSchemaVersion)); run `ociforge freeze` again",
                    file: display, key: "schemaVersion")
            }
            try validatePins(plan, display: display)
            let note = PlannerWarning(
                "using the frozen plan unchanged (providers, config files and versions are not re-read); delete it or run `ociforge freeze` to re-resolve",
                file: display)
            return PlanResult(
                plan: plan, warnings: [note],
                detected: plan.providers.map { DetectedProvider(name: $0, matchedFile: nil) })
        } catch let e as PlannerError {
            throw e
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw PlannerError(
                .type, "missing key \"\(key.stringValue)\"", file: display,
                key: (ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw PlannerError(
                .type, ctx.debugDescription, file: display,
                key: ctx.codingPath.map(\.stringValue).joined(separator: "."))
        } catch let DecodingError.dataCorrupted(ctx) {
            throw PlannerError(
                .invalidValue, ctx.debugDescription, file: display,
                key: ctx.codingPath.map(\.stringValue).joined(separator: "."))
        } catch {
            throw PlannerError(.invalidValue, "cannot decode the plan", file: display, cause: error)
        }
    }

    /// Names of NIXPACKS_/OCIFORGE_ settings understood (the rest produce a warning).
    public static let knownSettings: Set<String> = [
        "INSTALL_CMD", "BUILD_CMD", "START_CMD", "PKGS", "APT_PKGS", "LIBS", "INSTALL_CACHE_DIRS", "BUILD_CACHE_DIRS",
        "NO_CACHE", "CONFIG_FILE", "NODE_VERSION", "PYTHON_VERSION", "GO_VERSION", "GO_BIN", "RUST_VERSION", "RUST_BIN",
        "RUBY_VERSION", "JDK_VERSION", "PHP_VERSION", "PHP_ROOT_DIR", "STATICFILE_ROOT", "SPA_OUT_DIR",
        "ELIXIR_VERSION",
        "CLOJURE_VERSION", "GHC_VERSION", "CRYSTAL_VERSION", "COBOL_VERSION", "COBOL_APP_NAME", "SHELL_SCRIPT",
        "NO_GITIGNORE", "APP", "STATIC_DIR", "STRICT", "JSON_PLAN", "DEBUG", "TAG", "NAME", "BUN_VERSION",
        "DENO_VERSION", "DOTNET_VERSION",
        "ZIG_VERSION", "GLEAM_VERSION", "DART_VERSION", "SWIFT_VERSION", "SBT_VERSION", "ERLANG_VERSION",
        "MAVEN_VERSION"
    ]

    /// `TOOLCHAIN_<TOOL>_SOURCE` / `TOOLCHAIN_<TOOL>_MIRROR` for a tool `[toolchains.<tool>]` knows.
    static func isToolchainSetting(_ name: String) -> Bool {
        guard name.hasPrefix("TOOLCHAIN_") else { return false }
        for suffix in ["_SOURCE", "_MIRROR"] where name.hasSuffix(suffix) {
            let tool = name.dropFirst("TOOLCHAIN_".count).dropLast(suffix.count).lowercased()
            return ToolchainSettings.tools.contains(tool)
        }
        return false
    }
}

/// One planning run.
struct PlanSession {
    var root: String
    let options: PlanOptions
    var warnings: [PlannerWarning] = []
    var settings: [String: String] = [:]
    var locations: [String: (file: String, line: Int)] = [:]
    var ociforge = OCIForgeSettings()
    var configLayer = BuildPlanConfig()
    var app: AppDirectory!
    var loaded = false
    /// Set when nothing matched and the app has exactly one subdirectory to plan instead.
    var subdirectoryFallback: String?
    var suite: DebianSuite = Debian.suites[Debian.defaultSuite]!

    init(root: String, options: PlanOptions) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        self.options = options
    }

    var strict: Bool { options.strict || ["1", "true"].contains(settings["STRICT"]?.lowercased() ?? "") }

    // MARK: settings and config files

    mutating func loadSettings() {
        var keys: [String: String] = [:]
        for (k, v) in options.environment {
            for prefix in ["NIXPACKS_", "OCIFORGE_"] where k.hasPrefix(prefix) {
                let name = String(k.dropFirst(prefix.count))
                if prefix == "NIXPACKS_" && keys[name] == "OCIFORGE" { continue }
                settings[name] = v.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: "")
                settings["__source_\(name)"] = String(prefix.dropLast())
                keys[name] = String(prefix.dropLast())
            }
        }
        for name in keys.keys.sorted() where !Planner.knownSettings.contains(name) && !Planner.isToolchainSetting(name)
        {
            warnings.append(
                PlannerWarning("unknown setting \(keys[name]!)_\(name); it is ignored", key: "\(keys[name]!)_\(name)"))
        }
    }

    mutating func loadConfig() throws(PlannerError) {
        guard !loaded else { return }
        loaded = true
        loadSettings()
        app = try AppDirectory(root: root)
        var files: [(path: String, display: String, ociforge: Bool)] = []
        if let explicit = options.configPath ?? settings["CONFIG_FILE"] {
            let full = explicit.hasPrefix("/") ? explicit : root + "/" + explicit
            guard FileManager.default.fileExists(atPath: full) else {
                throw PlannerError(
                    .io, "the config file does not exist", file: explicit,
                    key: options.configPath != nil ? "--config" : "NIXPACKS_CONFIG_FILE")
            }
            let base = explicit.split(separator: "/").last.map(String.init) ?? explicit
            files.append((full, explicit, base.hasPrefix("ociforge")))
        } else {
            for name in ["nixpacks.json", "nixpacks.toml", "ociforge.toml"] where app.has(name) {
                files.append((root + "/" + name, name, name == "ociforge.toml"))
            }
        }
        var layers: [BuildPlanConfig] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw PlannerError(.io, "cannot read the config file", file: file.display)
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw PlannerError(.syntax, "the file is not valid UTF-8", file: file.display)
            }
            let node = try ConfigParser.parse(
                text, format: file.display.hasSuffix(".json") ? .json : .toml, file: file.display)
            var reader = ConfigReader(file: file.display, strict: strict)
            let plan = try reader.buildPlan(node, extraKeys: file.ociforge ? ConfigReader.ociforgeKeys : [])
            if file.ociforge {
                let s = try reader.settings(node)
                ociforge = s
            }
            warnings += reader.warnings
            for (k, line) in reader.locations { locations[k] = (file.display, line) }
            layers.append(plan)
        }
        if let blocks = options.buildBlocks { ociforge.blocks = blocks.applied(over: ociforge.blocks) }
        if let command = ociforge.build?.command {
            layers.append(BuildPlanConfig(phases: ["build": PhaseConfig(cmds: [command])]))
        }
        configLayer = BuildPlanConfig.merging(layers)
    }

    static func split(_ list: String) -> [String] {
        list.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    func envLayer() -> BuildPlanConfig {
        var plan = BuildPlanConfig()
        var phases: [String: PhaseConfig] = [:]
        func phase(_ name: String, _ edit: (inout PhaseConfig) -> Void) {
            var p = phases[name] ?? PhaseConfig()
            edit(&p)
            phases[name] = p
        }
        if let v = settings["INSTALL_CMD"], !v.isEmpty { phase("install") { $0.cmds = [v] } }
        if let v = settings["BUILD_CMD"], !v.isEmpty { phase("build") { $0.cmds = [v] } }
        if let v = settings["PKGS"], !v.isEmpty { phase("setup") { $0.nixPkgs = ["..."] + Self.split(v) } }
        if let v = settings["LIBS"], !v.isEmpty { phase("setup") { $0.nixLibs = ["..."] + Self.split(v) } }
        if let v = settings["APT_PKGS"], !v.isEmpty { phase("setup") { $0.aptPkgs = ["..."] + Self.split(v) } }
        if let v = settings["INSTALL_CACHE_DIRS"], !v.isEmpty {
            phase("install") { $0.cacheDirectories = ["..."] + Self.split(v) }
        }
        if let v = settings["BUILD_CACHE_DIRS"], !v.isEmpty {
            phase("build") { $0.cacheDirectories = ["..."] + Self.split(v) }
        }
        if !phases.isEmpty { plan.phases = phases }
        if let v = settings["START_CMD"], !v.isEmpty { plan.start = StartConfig(cmd: v) }
        return plan
    }

    func cliLayer() throws(PlannerError) -> BuildPlanConfig {
        var plan = BuildPlanConfig()
        var phases: [String: PhaseConfig] = [:]
        if let v = options.installCmd { phases["install", default: PhaseConfig()].cmds = [v] }
        if let v = options.buildCmd { phases["build", default: PhaseConfig()].cmds = [v] }
        if !options.pkgs.isEmpty {
            phases["setup", default: PhaseConfig()].nixPkgs = ["..."] + options.pkgs.flatMap(Self.split)
        }
        if !options.libs.isEmpty {
            phases["setup", default: PhaseConfig()].nixLibs = ["..."] + options.libs.flatMap(Self.split)
        }
        if !options.apt.isEmpty {
            let names = options.apt.flatMap(Self.split)
            for n in names {
                if let p = AptName.problem(n) {
                    throw PlannerError(.invalidValue, "invalid package name \"\(n)\": \(p)", key: "--apt")
                }
            }
            phases["setup", default: PhaseConfig()].aptPkgs = ["..."] + names
        }
        if !phases.isEmpty { plan.phases = phases }
        if let v = options.startCmd { plan.start = StartConfig(cmd: v) }
        if !options.env.isEmpty {
            var vars: [String: String] = [:]
            for entry in options.env {
                guard let eq = entry.firstIndex(of: "="), ConfigReader.isEnvName(String(entry[..<eq])) else {
                    throw PlannerError(.invalidOption, "expected KEY=VALUE, got \"\(entry)\"", key: "--env")
                }
                vars[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
            }
            plan.variables = vars
        }
        return plan
    }

    func jsonPlanLayer() throws(PlannerError) -> (BuildPlanConfig, [PlannerWarning]) {
        guard let text = options.jsonPlan ?? settings["JSON_PLAN"] else { return (BuildPlanConfig(), []) }
        let node = try ConfigParser.parse(text, format: .json, file: "--json-plan")
        var reader = ConfigReader(file: "--json-plan", strict: strict)
        let plan = try reader.buildPlan(node)
        return (plan, reader.warnings)
    }

    // MARK: providers

    struct Selected {
        var name: String
        var matched: String?
        var provider: (any Provider)?
        var staticFile: String?
    }

    mutating func selectProviders() throws(PlannerError) -> [Selected] {
        try loadConfig()
        let (jsonPlan, _) = try jsonPlanLayer()
        let above = BuildPlanConfig.merging([configLayer, envLayer(), jsonPlan, try cliLayer()])
        let appDir: AppDirectory = app
        var detected: Selected? = nil
        for p in Providers.all {
            if let m = p.detect(appDir) {
                detected = Selected(name: p.name, matched: m, provider: p)
                break
            }
        }
        guard let configured = above.providers else {
            guard let detected else {
                // Single-subdirectory fallback.
                let dirs = app.topLevelDirectories.filter { !$0.hasPrefix(".") }
                if dirs.count == 1
                    && app.topLevelFiles.filter({
                        !$0.hasPrefix(".") && !["nixpacks.toml", "nixpacks.json", "ociforge.toml"].contains($0)
                    }).isEmpty
                {
                    subdirectoryFallback = dirs[0]
                    return []
                }
                throw noProvider()
            }
            return [detected]
        }
        var out: [Selected] = []
        let names = Merge.finalize(Merge.array(detected.map { [$0.name] } ?? [], configured))
        for name in names {
            if name.hasSuffix(".toml") || name.hasSuffix(".json") || name.contains("/") {
                let base = name.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? name
                out.append(Selected(name: base, matched: nil, provider: nil, staticFile: name))
            } else if let p = Providers.named(name) {
                out.append(Selected(name: name, matched: p.detect(app), provider: p))
            } else {
                let loc = locations["providers"]
                throw PlannerError(
                    .unknownProvider,
                    "unknown provider \"\(name)\"; known providers: \(Providers.all.map(\.name).joined(separator: ", ")), or a path to a .toml/.json plan file",
                    file: loc?.file, line: loc?.line, key: "providers")
            }
        }
        if Set(out.map(\.name)).count != out.count {
            throw PlannerError(
                .invalidValue, "a provider is listed twice", file: locations["providers"]?.file,
                line: locations["providers"]?.line, key: "providers")
        }
        return out
    }

    func noProvider() -> PlannerError {
        let looked = Providers.all.map { "\($0.name) (\($0.triggers.joined(separator: ", ")))" }.joined(separator: "; ")
        return PlannerError(
            .noProvider,
            "No compatible providers found. Looked for: \(looked). Set `providers` or phases in nixpacks.toml/ociforge.toml, add a Dockerfile, or pass --start-cmd with `providers = []`",
            file: root)
    }

    // MARK: run

    mutating func run() throws(PlannerError) -> PlanResult {
        try loadConfig()
        // lttle's options.dir: plan a subdirectory (the config stays the one read here).
        if let dir = ociforge.options?.dir, dir != "." && !dir.isEmpty {
            guard app.hasDirectory(dir) else {
                throw PlannerError(
                    .io, "options.dir \(dir) is not a directory of the app", file: locations["options.dir"]?.file,
                    line: locations["options.dir"]?.line, key: "options.dir")
            }
            root = root + "/" + dir
            app = try AppDirectory(root: root)
        }
        let strategy = try chooseStrategy()
        if strategy == .dockerfile { return try dockerfilePlan() }

        var selected = try selectProviders()
        if let sub = subdirectoryFallback {
            warnings.append(
                PlannerWarning("no provider matched at the top level; planning the only subdirectory \(sub)/"))
            let nested0 = PlanSession(root: root + "/" + sub, options: options)
            var nested = nested0
            var result = try nested.run()
            result.warnings = warnings + result.warnings
            return result
        }
        let (jsonPlan, jsonWarnings) = try jsonPlanLayer()
        warnings += jsonWarnings
        let above = BuildPlanConfig.merging([configLayer, envLayer(), jsonPlan, try cliLayer()])
        selectSuite(buildImage: above.buildImage)

        // Provider plans: the first provider is unprefixed, later ones get `name:`; earlier ones win on conflicts.
        var outputs: [(Selected, ProviderOutput)] = []
        for (i, sel) in selected.enumerated() {
            var output: ProviderOutput
            if let file = sel.staticFile {
                output = ProviderOutput()
                output.plan = try readStaticProvider(file)
            } else {
                let ctx = ProviderContext(
                    app: app, settings: settings, variables: above.variables ?? [:],
                    config: ociforge.providerConfig[sel.name] ?? ProviderConfig(provider: sel.name),
                    suite: suite, toolchains: ociforge.toolchains,
                    selectedApp: options.app ?? ociforge.app ?? settings["APP"])
                output = try sel.provider!.plan(ctx)
                NativeDependencies.apply(to: &output, provider: sel.name, app: app)
            }
            // Static providers (plan files) are not prefixed: they extend the phases they name, above the
            // language providers, so their `...` splices what the providers planned.
            if i > 0 && sel.staticFile == nil {
                output.plan = output.plan.prefixed(sel.name)
                output.phaseInputs = Dictionary(
                    uniqueKeysWithValues: output.phaseInputs.map { ("\(sel.name):\($0.key)", $0.value) })
            }
            warnings += output.notes
            outputs.append((sel, output))
        }
        selected = outputs.map(\.0)
        let code = outputs.filter { $0.0.staticFile == nil }
        let staticPlans = outputs.filter { $0.0.staticFile != nil }
        let providerLayer = BuildPlanConfig.merging(code.reversed().map(\.1.plan) + staticPlans.map(\.1.plan))
        let procfile = try procfileLayer(providerPhases: Set((providerLayer.phases ?? [:]).keys))
        let merged = BuildPlanConfig.merging([providerLayer, procfile, above])
        let unpinnedProviders = code.map(\.1)
        return PlanResult(
            plan: try resolve(merged, providers: selected.map(\.name), outputs: unpinnedProviders),
            warnings: warnings, detected: selected.map { DetectedProvider(name: $0.name, matchedFile: $0.matched) },
            build: ociforge.build)
    }

    func readStaticProvider(_ file: String) throws(PlannerError) -> BuildPlanConfig {
        let full = file.hasPrefix("/") ? file : root + "/" + file
        guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8)
        else {
            throw PlannerError(
                .io, "the static provider plan file does not exist or is unreadable", file: file, key: "providers")
        }
        let node = try ConfigParser.parse(text, format: file.hasSuffix(".json") ? .json : .toml, file: file)
        var reader = ConfigReader(file: file, strict: strict)
        return try reader.buildPlan(node)
    }

    func procfileLayer(providerPhases: Set<String>) throws(PlannerError) -> BuildPlanConfig {
        guard let text = app.read("Procfile") else { return BuildPlanConfig() }
        var entries: [(String, String)] = []
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.trimmed(" \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw PlannerError(.syntax, "expected `name: command`", file: "Procfile", line: lineNo)
            }
            let name = line[..<colon].trimmed(" \t")
            let cmd = line[line.index(after: colon)...].trimmed(" \t")
            if name.isEmpty || cmd.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })
            {
                throw PlannerError(
                    .syntax, "expected `name: command`", file: "Procfile", line: lineNo, key: name.isEmpty ? nil : name)
            }
            entries.append((name, cmd))
        }
        var plan = BuildPlanConfig()
        let processes = entries.filter { $0.0 != "release" }
        if let web = processes.first(where: { $0.0 == "web" }) ?? processes.first(where: { $0.0 == "worker" })
            ?? processes.sorted(by: { $0.0 < $1.0 }).first
        {
            plan.start = StartConfig(cmd: web.1)
        }
        if let release = entries.first(where: { $0.0 == "release" }) {
            let after = ["build", "install", "setup"].first { providerPhases.contains($0) }
            plan.phases = ["release": PhaseConfig(dependsOn: after.map { [$0] } ?? [], cmds: [release.1])]
        }
        return plan
    }

    /// The build image (`--base` > `[build] base` > the plan's `buildImage` > debian:trixie) selects the suite.
    mutating func selectSuite(buildImage: String?) {
        guard let image = options.baseImage ?? ociforge.build?.base ?? buildImage else { return }
        if let s = Debian.suite(forImage: image) {
            suite = s
        } else {
            warnings.append(
                PlannerWarning(
                    "the build image \(image) is not a Debian suite ociforge knows (\(Debian.suites.keys.sorted().joined(separator: ", "))); toolchain versions are chosen as for Debian \(Debian.defaultSuite)"
                ))
        }
    }

    // MARK: strategy

    func chooseStrategy() throws(PlannerError) -> ResolvedPlan.Strategy {
        let requested = options.strategy ?? ociforge.build?.strategy ?? .auto
        let dockerfile = dockerfilePath()
        switch requested {
        case .plan: return .plan
        case .dockerfile:
            guard app.has(dockerfile) else {
                throw PlannerError(
                    .dockerfileNotFound, "Dockerfile not found: \(dockerfile) (strategy dockerfile)",
                    file: locations["build.strategy"]?.file,
                    line: locations["build.strategy"]?.line, key: "docker.dockerfile")
            }
            return .dockerfile
        case .auto:
            if ociforge.docker != nil && !app.has(dockerfile) {
                throw PlannerError(
                    .dockerfileNotFound, "Dockerfile not found: \(dockerfile)", file: locations["docker"]?.file,
                    line: locations["docker"]?.line, key: "docker.dockerfile")
            }
            return app.has(dockerfile) ? .dockerfile : .plan
        }
    }

    func imageTarget() -> ImageTarget {
        let o = ociforge.blocks
        if let image = options.image ?? o.image, let parts = ImageNames.split(image) {
            return ImageTarget(name: parts.name, tag: parts.tag, reference: image)
        }
        let name = options.imageName ?? o.name ?? ImageNames.generated(from: root)
        let tag = options.imageTag ?? o.tag ?? "latest"
        return ImageTarget(name: name, tag: tag, reference: "\(name):\(tag)")
    }

    /// `.dockerignore` and `exclude` with Docker's rules, `.gitignore` with git's (see `IgnoreRules`).
    func buildContext() throws(PlannerError) -> BuildContext {
        var rules = IgnoreRules()
        try rules.addDockerignore(Planner.frozenFileName, file: Planner.frozenFileName)
        if let d = app.read(".dockerignore") { try rules.addDockerignore(d, file: ".dockerignore") }
        let useGit =
            options.useGitignore ?? ociforge.gitignore
            ?? !(["1", "true"].contains(settings["NO_GITIGNORE"]?.lowercased() ?? ""))
        if useGit, let g = app.read(".gitignore") { rules.addGitignore(g) }
        let excludeFile = locations["exclude"]?.file ?? "ociforge.toml"
        for p in ociforge.exclude ?? [] { try rules.addDockerignore(p, file: excludeFile + " exclude") }
        return BuildContext(
            exclude: rules.patterns, useGitignore: useGit, files: app.allFiles.filter { !rules.excludes($0) })
    }

    // MARK: resolution

    mutating func resolve(_ merged: BuildPlanConfig, providers: [String], outputs: [ProviderOutput])
        throws(PlannerError) -> ResolvedPlan
    {
        let phases = merged.phases ?? [:]
        // dependsOn: explicit (markers removed) or Nixpacks' defaults when those phases exist.
        var deps: [String: [String]] = [:]
        for (name, phase) in phases {
            if let explicit = phase.dependsOn {
                deps[name] = Merge.finalize(explicit)
                for d in deps[name]! where phases[d] == nil {
                    let loc = locations["phases.\(name).dependsOn"]
                    throw PlannerError(
                        .unknownPhase,
                        "phase \"\(name)\" depends on \"\(d)\", which is not a phase (phases: \(phases.keys.sorted().joined(separator: ", ")))",
                        file: loc?.file, line: loc?.line, key: "phases.\(name).dependsOn")
                }
            } else {
                let base = name.split(separator: ":").last.map(String.init) ?? name
                let prefix = name.contains(":") ? String(name[..<name.lastIndex(of: ":")!]) + ":" : ""
                // Nixpacks' implied order: build after install after setup; a missing phase is skipped over.
                let chain: [String] = base == "build" ? ["install", "setup"] : (base == "install" ? ["setup"] : [])
                deps[name] = chain.map { prefix + $0 }.first { phases[$0] != nil }.map { [$0] } ?? []
            }
        }
        let order = try topologicalOrder(deps)
        let secrets = Set(
            (ociforge.secrets ?? []) + (ociforge.build?.env ?? []).filter { (merged.variables ?? [:])[$0] == nil })
        var caches: [String: Cache] = [:]
        let noCache = ["1", "true"].contains(settings["NO_CACHE"]?.lowercased() ?? "")
        var phaseInputs: [String: [String]] = [:]
        var providerCmds: [String: [String]] = [:]
        for o in outputs {
            for (k, v) in o.phaseInputs { phaseInputs[k] = v }
            for (k, p) in o.plan.phases ?? [:] { providerCmds[k] = Merge.finalize(p.cmds) }
        }
        var steps: [Step] = []
        var allPaths: [String] = []
        for name in order {
            let phase = phases[name]!
            var apt = Merge.finalize(phase.aptPkgs)
            let loc = locations["phases.\(name).nixPkgs"]
            apt += try Debian.mapNix(
                Merge.finalize(phase.nixPkgs), suite: suite, file: loc?.file, key: "phases.\(name).nixPkgs")
            apt += try Debian.mapNix(
                Merge.finalize(phase.nixLibs), suite: suite, file: locations["phases.\(name).nixLibs"]?.file,
                key: "phases.\(name).nixLibs")
            if name == order.first, let extra = ociforge.build?.packagesBuild { apt += extra }
            for n in apt {
                if let p = AptName.problem(n) {
                    throw PlannerError(
                        .invalidValue, "invalid package name \"\(n)\": \(p)", key: "phases.\(name).aptPkgs")
                }
            }
            for (field, set) in [
                ("nixOverlays", !Merge.finalize(phase.nixOverlays).isEmpty),
                ("nixpkgsArchive", phase.nixpkgsArchive != nil)
            ] where set {
                let loc = locations["phases.\(name).\(field)"]
                warnings.append(
                    PlannerWarning(
                        "\(field) has no meaning with Debian packages and is ignored; pin versions with aptPkgs (`pkg=version`) or `ociforge freeze`",
                        file: loc?.file, line: loc?.line, key: "phases.\(name).\(field)"))
            }
            let cmds = Merge.finalize(phase.cmds)
            var stepCaches: [String] = []
            if !noCache {
                for dir in Merge.finalize(phase.cacheDirectories) {
                    let path = dir.hasPrefix("/") ? dir : "/app/" + dir
                    let cname = Self.cacheName(path)
                    caches[cname] = Cache(directory: path, sharing: path.hasPrefix("/app/") ? .locked : .shared)
                    stepCaches.append(cname)
                }
            }
            var inputs = deps[name]!.map { StepInput.from(step: $0) }
            let base = name.split(separator: ":").last.map(String.init) ?? name
            if let only = phase.onlyIncludeFiles.map(Merge.finalize) {
                inputs.append(.app(only))
            } else if let manifests = phaseInputs[name], providerCmds[name] == cmds {
                if !manifests.isEmpty { inputs.append(.app(manifests)) }
            } else if base != "setup" {
                inputs.append(.app(["."]))
            }
            let paths = Merge.finalize(phase.paths)
            allPaths += paths
            steps.append(
                Step(
                    name: name, dependsOn: deps[name]!, inputs: inputs, aptPackages: Array(Set(apt)).sorted(),
                    commands: cmds, caches: stepCaches.sorted(), paths: paths, secrets: secrets.sorted()))
        }

        // Toolchains: providers' plus what setup lists, recorded with the resolved version.
        var toolchains: [Toolchain] = []
        for o in outputs {
            for t in o.toolchains where !toolchains.contains(where: { $0.name == t.name }) { toolchains.append(t) }
        }

        let variables = merged.variables ?? [:]
        let buildVariables: [String: String]
        if let allowed = ociforge.build?.env {
            buildVariables = variables.filter { allowed.contains($0.key) }
        } else {
            buildVariables = variables.filter { !secrets.contains($0.key) }
        }

        // Deploy: outputs of the leaf steps (no other step depends on them).
        let start = merged.start ?? StartConfig()
        let depended = Set(deps.values.flatMap { $0 })
        let leaves = order.filter { !depended.contains($0) }
        let include = start.onlyIncludeFiles.map(Merge.finalize) ?? (outputs.first?.deployInclude ?? ["."])
        var deployInputs: [StepInput] =
            leaves.isEmpty
            ? [.app(include)]
            : leaves.map { StepInput(step: $0, local: false, include: include) }
        // Interpreted apps without a build step: no step saw the whole app, so the app files are copied too.
        if !leaves.isEmpty && !steps.contains(where: { $0.inputs.contains { $0.local && $0.include == ["."] } }) {
            deployInputs.append(.app(start.onlyIncludeFiles.map(Merge.finalize) ?? ["."]))
        }
        // Providers' runtime packages are for Debian runtime bases; the scratch base has no package manager and
        // takes the CA bundle and zoneinfo from the build stage.
        let providerRuntimeApt = start.runImage == Debian.staticRuntimeImage ? [] : outputs.flatMap(\.runtimePackages)
        var runtimeApt = providerRuntimeApt + (ociforge.build?.packagesRuntime ?? [])
        if outputs.isEmpty && ociforge.build?.packagesRuntime == nil {
            // Without a provider nothing tells build-only packages from runtime ones: keep them all at runtime
            // ([build.packages] runtime makes it explicit).
            runtimeApt = steps.flatMap(\.aptPackages)
        }
        runtimeApt = Array(Set(runtimeApt)).sorted()
        var env = variables.filter { !secrets.contains($0.key) }
        for o in outputs { for (k, v) in o.runtimeVariables where env[k] == nil { env[k] = v } }
        var deployPaths: [String] = []
        for p in outputs.flatMap(\.runtimePaths) + allPaths.filter({ $0.hasPrefix("/app") })
        where !deployPaths.contains(p) {
            deployPaths.append(p)
        }
        if start.cmd == nil {
            warnings.append(PlannerWarning("no start command: set start.cmd, --start-cmd or a Procfile `web:` entry"))
        }
        if let cmd = start.cmd, !outputs.isEmpty {
            let check = try StartCommandCheck.check(
                start: cmd, runtimeBase: start.runImage ?? suite.runtimeImage, aptPackages: runtimeApt,
                paths: deployPaths, toolchains: toolchains)
            runtimeApt = Array(Set(runtimeApt + check.addedPackages)).sorted()
            warnings += check.notes
        }
        let requestedUser = options.user ?? start.user
        if let u = options.user, u.isEmpty || u.contains(where: { $0 == " " || $0 == "\n" }) {
            throw PlannerError(.invalidOption, "a user is a name or uid[:gid] without spaces", key: "--user")
        }
        let account = RuntimeUser.resolve(requested: requestedUser, writable: outputs.flatMap(\.writablePaths))
        DefaultPort.apply(to: &env, startCommand: start.cmd)
        let deploy = Deploy(
            base: start.runImage ?? suite.runtimeImage, aptPackages: runtimeApt, inputs: deployInputs,
            startCommand: start.cmd, workingDirectory: "/app", env: env, paths: deployPaths,
            user: account?.name ?? requestedUser ?? "root", runtimeUser: account)
        let aptSuites = Set(toolchains.compactMap { $0.debian?.suite }).subtracting([suite.name]).sorted()
        var plan = ResolvedPlan(
            strategy: .plan, dockerfile: nil, providers: providers, suite: suite.name,
            buildImage: options.baseImage ?? ociforge.build?.base ?? merged.buildImage ?? suite.buildImage,
            toolchains: toolchains, packageManagers: outputs.flatMap(\.packageManagers), aptSuites: aptSuites,
            buildVariables: buildVariables, secrets: secrets.sorted(), staticAssets: merged.staticAssets ?? [:],
            caches: caches, steps: steps, deploy: deploy, context: try buildContext(), image: imageTarget(),
            frozen: false)
        let mirrors = ociforge.toolchains.mirrors
        plan.toolchainMirrors = mirrors.isEmpty ? nil : mirrors
        return plan
    }

    static func cacheName(_ path: String) -> String {
        var out = ""
        for ch in path.lowercased() {
            if ch.isLetter || ch.isNumber {
                out.append(ch)
            } else if !out.isEmpty && !out.hasSuffix("-") {
                out.append("-")
            }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }

    func topologicalOrder(_ deps: [String: [String]]) throws(PlannerError) -> [String] {
        // Cycle detection with the path for the message.
        var state: [String: Int] = [:]
        var stack: [String] = []
        func visit(_ n: String) -> [String]? {
            if state[n] == 2 { return nil }
            if state[n] == 1 { return Array(stack[stack.firstIndex(of: n)!...]) + [n] }
            state[n] = 1
            stack.append(n)
            for d in deps[n] ?? [] { if let c = visit(d) { return c } }
            stack.removeLast()
            state[n] = 2
            return nil
        }
        for n in deps.keys.sorted() {
            if let cycle = visit(n) {
                let loc = locations["phases.\(cycle[0]).dependsOn"]
                throw PlannerError(
                    .dependencyCycle, "phases depend on each other in a cycle: \(cycle.joined(separator: " -> "))",
                    file: loc?.file, line: loc?.line, key: "phases.\(cycle[0]).dependsOn")
            }
        }
        var remaining = deps
        var order: [String] = []
        while !remaining.isEmpty {
            let ready = remaining.filter { $0.value.allSatisfy { order.contains($0) } }.keys.sorted()
            order.append(ready[0])
            remaining[ready[0]] = nil
        }
        return order
    }
}
