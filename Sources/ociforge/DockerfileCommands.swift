import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge dockerfile parse|plan`: the Dockerfile front end on its own, for debugging.
struct DockerfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dockerfile",
        abstract:
            "Parse, resolve or build a Dockerfile (builds run on ociforge's sandbox, layer cache and writer; no Docker).",
        subcommands: [DockerfileParseCommand.self, DockerfilePlanCommand.self, DockerfileBuildCommand.self])
}

struct DockerfileParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Print the parsed instructions (directives, flags, heredocs, exec/shell form) as JSON.")

    @Argument(help: "The Dockerfile.")
    var file: String

    func run() throws {
        let path = file
        guard FileManager.default.fileExists(atPath: path) else {
            printError("error: Dockerfile not found: \(path)")
            throw ExitCode(2)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("error: \(path): cannot read the file")
            throw ExitCode(2)
        }
        let text = String(decoding: data, as: UTF8.self)
        let ast = try runPlanner { () throws(PlannerError) in try DockerfileParser.parse(text, file: path) }
        reportPlannerWarnings(ast.warnings)
        print(DockerfileRenderer.json(ast), terminator: "")
    }
}

struct DockerfilePlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract:
            "Resolve a Dockerfile against its context: stages needed for the target, substituted instructions, COPY sources."
    )

    @Argument(help: "The build context directory.")
    var context: String = "."

    @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default: <context>/Dockerfile).")
    var file: String?

    @Option(name: .customLong("build-arg"), help: "Build arg KEY=VALUE (repeatable).")
    var buildArgs: [String] = []

    @Option(name: .customLong("target"), help: "The stage to build (default: the last).")
    var target: String?

    @Option(name: .customLong("platform"), help: "Target platform (default: the host's, e.g. linux/amd64).")
    var platform: String?

    @Option(name: .customLong("format"), help: "json (default) or table.")
    var format: String = "json"

    func run() throws {
        var o = DockerfileOptions()
        for a in buildArgs {
            if let eq = a.firstIndex(of: "=") {
                o.buildArgs[String(a[..<eq])] = String(a[a.index(after: eq)...])
            } else if let v = ProcessInfo.processInfo.environment[a] {
                o.buildArgs[a] = v  // Docker: `--build-arg NAME` takes the value from the environment
            } else {
                throw ValidationError("--build-arg \(a): expected KEY=VALUE (or NAME set in the environment)")
            }
        }
        o.target = target
        if let platform { o.platform = platform }
        let dockerfile = file ?? (context + "/Dockerfile")
        let ctx = context
        let resolved = try runPlanner { () throws(PlannerError) in
            try Dockerfile.resolve(path: dockerfile, display: dockerfile, context: ctx, contextDisplay: ctx, options: o)
        }
        guard format == "json" || format == "table" else { throw ValidationError("--format must be json or table") }
        if format == "table" {
            print(DockerfileRenderer.summary(resolved), terminator: "")
            return
        }
        for w in resolved.warnings { printError("warning: \(w)") }
        print(DockerfileRenderer.json(resolved), terminator: "")
    }
}

/// Build args from `--build-arg KEY=VALUE` (or `NAME`, taken from the environment, as Docker does).
func parseBuildArgs(_ list: [String]) throws -> [String: String] {
    var out: [String: String] = [:]
    for a in list {
        if let eq = a.firstIndex(of: "=") {
            out[String(a[..<eq])] = String(a[a.index(after: eq)...])
        } else if let v = ProcessInfo.processInfo.environment[a] {
            out[a] = v
        } else {
            throw ValidationError("--build-arg \(a): expected KEY=VALUE (or NAME set in the environment)")
        }
    }
    return out
}

struct DockerfileBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract:
            "Build a Dockerfile into an OCI layout: RUN in the sandbox, COPY/ADD/WORKDIR as layers, every layer cached."
    )

    @Argument(help: "The build context directory.")
    var context: String = "."

    @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default: <context>/Dockerfile).")
    var file: String?

    @Option(
        name: [.short, .customLong("output")],
        help:
            "oci-layout:<path>[:tag] (tag default: latest), docker://<reference> or docker-archive:<file>[:name] (built into <context>/.ociforge/oci, then sent)."
    )
    var output: String

    @OptionGroup(title: "Extraction limits") var extractionLimits: ExtractionLimitFlags

    @Option(name: .customLong("build-arg"), help: "Build arg KEY=VALUE (repeatable).")
    var buildArgs: [String] = []

    @Option(name: .customLong("target"), help: "The stage to build (default: the last).")
    var target: String?

    @Option(
        name: .customLong("platform"),
        help:
            "os/arch[/variant][,…] (default: the host's); several build one image each into one OCI index (another architecture runs under qemu emulation)."
    )
    var platform: String?

    @Option(
        name: .customLong("secret"),
        help:
            "ID=env:VAR or ID=file:PATH (or Docker's id=ID,src=PATH / id=ID,env=VAR) for RUN --mount=type=secret,id=ID. Repeatable."
    )
    var secret: [String] = []

    @Option(name: .customLong("network"), help: "Network of RUN steps without --network: host (default) or none.")
    var network: NetworkMode = .host

    @Option(
        name: .customLong("insecure-registry"),
        help:
            "host[:port] of a FROM image's registry that may be reached over plain HTTP (repeatable; loopback hosts always may)."
    )
    var insecureRegistries: [String] = []

    @Option(name: .customLong("cache-dir"), help: "Layer cache directory (default: <state dir>/build-cache).")
    var cacheDir: String?

    @Flag(name: .customLong("no-cache"), help: "Run every step even when a cached layer exists.")
    var noCache = false

    @OptionGroup(title: "Registry cache") var cacheFlags: CacheFlags

    @Flag(name: .customLong("json"), help: "Print the result as JSON on stdout.")
    var json = false

    @Flag(name: [.short, .customLong("quiet")], help: "No RUN output on stderr (progress lines only).")
    var quiet = false

    @OptionGroup(title: "Supply chain") var attestationFlags: AttestationFlags

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        SignalGuard.install()
        var o = DockerfileOptions()
        o.buildArgs = try parseBuildArgs(buildArgs)
        o.target = target
        let dockerfile = file ?? (context + "/Dockerfile")
        // Parsed and resolved here first, so that syntax errors are reported as the planner's (exit status 2).
        let ctx = context
        _ = try runPlanner { () throws(PlannerError) in
            try Dockerfile.resolve(path: dockerfile, display: dockerfile, context: ctx, contextDisplay: ctx, options: o)
        }
        let request = try reportingErrors { () throws -> BuildRequest in
            var options = BuildOptions(output: try outputLocation(output))
            options.network = network
            options.noCache = noCache
            options.registryCache = try cacheFlags.options(config: nil)
            options.registryOptions.insecureRegistries = Set(insecureRegistries.map { $0.lowercased() })
            options.cacheDirectory = cacheDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            options.secrets = try secret.map { try Secret.parse($0) }
            options.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
            options.attestations = try attestationFlags.options()
            options.platforms = try platform.map(parsePlatforms) ?? []
            return BuildRequest(source: .dockerfile(path: dockerfile, context: ctx, options: o), options: options)
        }
        try runBuild(request, quiet: false, json: json, hideOutput: quiet, state: extractionLimits.stateDirectory)
    }

    /// `--output`: a layout (with or without the `oci-layout:` prefix; tag default latest), `docker://…` or
    /// `docker-archive:…` (built into <context>/.ociforge/oci first).
    func outputLocation(_ s: String) throws -> ImageLocation {
        if s.hasPrefix("docker://") || s.hasPrefix("docker-archive:") { return try ImageLocation(parsing: s) }
        let ref = try parseLayoutReference(s, flag: "--output")
        return .ociLayout(path: URL(fileURLWithPath: ref.path).standardizedFileURL.path, tag: ref.tag)
    }
}
