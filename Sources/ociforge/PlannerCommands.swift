import ArgumentParser
import Foundation
import Planner
import Sandbox

/// Flags shared by `plan`, `detect`, `freeze` (and later `build`).
struct PlannerOptions: ParsableArguments {
    @Argument(help: "The app directory.")
    var directory: String = "."

    @Option(name: [.short, .customLong("install-cmd")], help: "Install command (overrides the install phase).")
    var installCmd: String?

    @Option(name: [.short, .customLong("build-cmd")], help: "Build command (overrides the build phase).")
    var buildCmd: String?

    @Option(name: [.short, .customLong("start-cmd")], help: "Start command.")
    var startCmd: String?

    @Option(name: [.short, .customLong("pkgs")], help: "Extra Nix package names (mapped to Debian), added to setup.")
    var pkgs: [String] = []

    @Option(name: [.short, .customLong("apt")], help: "Extra Debian packages for the setup phase.")
    var apt: [String] = []

    @Option(name: .customLong("libs"), help: "Extra Nix library names (mapped to Debian), added to setup.")
    var libs: [String] = []

    @Option(name: [.short, .customLong("env")], help: "Variable KEY=VALUE (repeatable).")
    var env: [String] = []

    @Option(name: [.short, .customLong("config")], help: "Config file (nixpacks.toml/json or ociforge.toml).")
    var config: String?

    @Option(name: .customLong("json-plan"), help: "A plan in JSON (Nixpacks schema) merged above environment settings.")
    var jsonPlan: String?

    @Flag(name: .customLong("strict"), help: "Unknown config keys are errors.")
    var strict = false

    @Flag(name: .customLong("no-gitignore"), help: "Do not apply .gitignore to the build inputs.")
    var noGitignore = false

    @Option(name: .customLong("strategy"), help: "auto, dockerfile or plan.")
    var strategy: String?

    @Option(name: [.short, .customLong("name")], help: "Image name.")
    var name: String?

    @Option(name: [.short, .customLong("tag")], help: "Image tag.")
    var tag: String?

    @Option(name: .customLong("frozen-plan"), help: "Use this frozen plan file unchanged.")
    var frozenPlan: String?

    @Option(
        name: .customLong("build-arg"), help: "Dockerfile strategy: build arg KEY=VALUE (repeatable; over docker.args)."
    )
    var buildArgs: [String] = []

    @Option(name: .customLong("target"), help: "Dockerfile strategy: the stage to build (default: the last).")
    var target: String?

    @Option(
        name: .customLong("dockerfile"),
        help: "Dockerfile strategy: the Dockerfile, relative to the context (default: docker.dockerfile or Dockerfile)."
    )
    var dockerfile: String?

    @Option(
        name: .customLong("app"),
        help: "Workspace member to build and start (a path such as apps/web, or its package name).")
    var app: String?

    @Option(
        name: .customLong("user"),
        help: "Runtime user (default: the unprivileged `app`, uid/gid 10001; `root` opts out).")
    var user: String?

    func planOptions() throws -> PlanOptions {
        var o = PlanOptions()
        o.installCmd = installCmd
        o.buildCmd = buildCmd
        o.startCmd = startCmd
        o.pkgs = pkgs
        o.apt = apt
        o.libs = libs
        o.env = env
        o.configPath = config
        o.jsonPlan = jsonPlan
        o.strict = strict
        o.environment = ProcessInfo.processInfo.environment
        if noGitignore { o.useGitignore = false }
        o.frozenPlanPath = frozenPlan
        if let strategy {
            guard let s = BuildBlock.Strategy(rawValue: strategy) else {
                throw ValidationError("--strategy must be auto, dockerfile or plan")
            }
            o.strategy = s
        }
        o.imageName = name
        o.imageTag = tag
        for a in buildArgs {
            let (k, v) = try parseKeyValue(a, flag: "--build-arg")
            o.buildArgs[k] = v
        }
        o.target = target
        o.dockerfile = dockerfile
        o.user = user
        o.app = app
        return o
    }
}

func reportPlannerWarnings(_ warnings: [PlannerWarning]) {
    for w in warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
}

func runPlanner<T>(_ body: () throws(PlannerError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Print the resolved build plan.")

    @OptionGroup var planner: PlannerOptions

    @Option(
        name: [.short, .customLong("format")],
        help: "json, toml, table or dockerfile (the plan as a Dockerfile; its .dockerignore with --dockerignore).")
    var format: String = "json"

    @Option(
        name: .customLong("base"),
        help: "Build image debian:<suite> (default debian:trixie); selects the Debian toolchain tables.")
    var base: String?

    @Option(
        name: .customLong("dockerignore"),
        help: "With --format dockerfile: also write the matching .dockerignore to this file.")
    var dockerignore: String?

    @Flag(
        name: .customLong("resolve-toolchains"),
        help: "Resolve upstream toolchains against their channels (version, URL, digest), as freeze records them.")
    var resolveToolchains = false

    @OptionGroup(title: "Toolchains") var toolchains: ToolchainFlags

    @OptionGroup(title: "Cache keys (--cache-keys)") var keys: CacheKeyFlags

    @Argument(help: "More app directories, planned in the same process (json: one array; table: one after another).")
    var moreDirectories: [String] = []

    func run() throws {
        guard ["json", "toml", "table", "dockerfile"].contains(format) else {
            throw ValidationError("--format must be json, toml, table or dockerfile")
        }
        var options = try planner.planOptions()
        options.baseImage = base
        if !moreDirectories.isEmpty { return try runBatch(options) }
        let dir = planner.directory
        var result = try runPlanner { () throws(PlannerError) in try Planner.plan(appDirectory: dir, options: options) }
        reportPlannerWarnings(result.warnings)
        if resolveToolchains {
            result.plan = try pinToolchains(
                result.plan, flags: toolchains, stateDirectory: StateDirectory.default().path)
        }
        if keys.cacheKeys {
            return try keys.print(
                plan: result, planOptions: options, directory: dir, base: base, json: format == "json")
        }
        switch format {
        case "toml":
            print(try runPlanner { () throws(PlannerError) in try PlanRenderer.toml(result.plan) }, terminator: "")
        case "table": print(PlanRenderer.summary(result.plan), terminator: "")
        case "dockerfile":
            let export = try runPlanner { () throws(PlannerError) in try DockerfileExport.render(result.plan) }
            if let path = dockerignore {
                try runPlanner { () throws(PlannerError) in
                    try PlanRenderer.writeAtomically(export.dockerignore, to: path)
                }
            }
            print(export.dockerfile, terminator: "")
        default: print(PlanRenderer.json(result.plan), terminator: "")
        }
    }
}

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect", abstract: "Print the providers that match the app.")

    @OptionGroup var planner: PlannerOptions

    func run() throws {
        let options = try planner.planOptions()
        let dir = planner.directory
        let detected = try runPlanner { () throws(PlannerError) in
            try Planner.detect(appDirectory: dir, options: options)
        }
        print(PlanRenderer.detect(detected), terminator: "")
    }
}

struct FreezeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Write the fully resolved plan, with pinned versions, to a file that plan/build then use unchanged.")

    @OptionGroup var planner: PlannerOptions

    @Option(name: [.short, .customLong("output")], help: "Output file (default: <dir>/ociforge.plan.json).")
    var output: String?

    @Option(
        name: .customLong("base"),
        help: "Build image debian:<suite> (default debian:trixie); selects the Debian toolchain tables.")
    var base: String?

    @OptionGroup(title: "Toolchains") var toolchains: ToolchainFlags

    @Option(
        name: .customLong("platform"),
        help:
            "os/arch[,…]: pin upstream toolchains for each of these image platforms (default: the host's), so `build --platform` with the frozen plan reads no index."
    )
    var platform: String?

    func run() throws {
        var options = try planner.planOptions()
        options.baseImage = base
        let platforms = try platform.map(parsePlatforms) ?? []
        let dir = planner.directory
        var result = try runPlanner { () throws(PlannerError) in try Planner.freeze(appDirectory: dir, options: options)
        }
        reportPlannerWarnings(result.warnings)
        // The upstream toolchains' pins (version, URLs, sha256): a frozen plan never reads an index again.
        result.plan = try pinToolchains(
            result.plan, flags: toolchains, stateDirectory: StateDirectory.default().path, platforms: platforms)
        let path = output ?? (dir + "/" + Planner.frozenFileName)
        try runPlanner { () throws(PlannerError) in
            try PlanRenderer.writeAtomically(PlanRenderer.json(result.plan), to: path)
        }
        print(PlanRenderer.summary(result.plan), terminator: "")
        print("frozen plan written to \(path)")
    }
}
