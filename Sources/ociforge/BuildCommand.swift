import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an app directory into an OCI image (plan, sandboxed phases, slim runtime stage, layer cache).")

    @OptionGroup var planner: PlannerOptions

    @Option(
        name: [.short, .customLong("output")],
        help:
            "Where the image goes: oci-layout:<path>[:tag] (default: <app>/.ociforge/oci with the plan's tag), docker://<reference> (pushed after building into the default layout) or docker-archive:<file>[:name]."
    )
    var output: String?

    @Option(name: .customLong("image"), help: "Full image reference (overrides --name/--tag).")
    var image: String?

    @Option(
        name: .customLong("base"),
        help: "Build image: debian:<suite> (mmdebstrap minbase), a rootfs directory or tarball.")
    var base: String?

    @Option(
        name: .customLong("runtime-base"), help: "Runtime base: debian:<suite>[-slim], a rootfs directory or tarball.")
    var runtimeBase: String?

    @OptionGroup var platformFlags: PlatformFlags

    @Flag(name: .customLong("no-cache"), help: "Run every phase even when a cached layer exists.")
    var noCache = false

    @Flag(
        name: .customLong("serial-stages"),
        help: "Build the runtime stage's base and packages after the build stage, not beside it.")
    var serialStages = false

    @Option(name: .customLong("cache-dir"), help: "Layer cache directory (default: <state dir>/build-cache).")
    var cacheDir: String?

    @Option(
        name: .customLong("secret"),
        help: "ID=env:VAR or ID=file:PATH: /run/secrets/ID (and $ID) in build phases. Repeatable.")
    var secret: [String] = []

    @Option(name: .customLong("network"), help: "host (default) or none for build phases.")
    var network: NetworkMode = .host

    @Option(
        name: .customLong("ca-bundle"),
        help: "Extra trusted CAs (PEM) for build phases, e.g. an egress proxy's; never in the image.")
    var caBundle: String?

    @Flag(name: .customLong("debug-build"), help: "Print the resolved plan and the generated phase scripts.")
    var debugBuild = false

    @Flag(name: .customLong("json"), help: "Print the result as JSON on stdout.")
    var json = false

    @OptionGroup(title: "Registry cache") var cacheFlags: CacheFlags

    @OptionGroup var registryFlags: RegistryFlags

    @OptionGroup(title: "Toolchains") var toolchains: ToolchainFlags

    @OptionGroup(title: "Extraction limits") var extractionLimits: ExtractionLimitFlags

    @OptionGroup(title: "Supply chain") var attestationFlags: AttestationFlags

    @Option(
        name: .customLong("export-dockerfile"),
        help: "Also write the plan as a Dockerfile to this path (and <path>.dockerignore).")
    var exportDockerfile: String?

    @Flag(
        name: [.short, .customLong("quiet")], help: "No progress or phase output on stderr (errors and warnings only).")
    var quiet = false

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        SignalGuard.install()
        var options = try planner.planOptions()
        if let image { options.image = image }
        options.baseImage = base
        // ociforge's own runtime settings are not planner settings.
        options.environment = options.environment.filter { !["OCIFORGE_STATE_DIR", "OCIFORGE_USERNS"].contains($0.key) }
        let dir = absolute(planner.directory)
        let result = try runPlanner { () throws(PlannerError) in try Planner.plan(appDirectory: dir, options: options) }
        reportPlannerWarnings(result.warnings)
        let plan = result.plan
        printError(PlanRenderer.summary(plan))
        if debugBuild {
            printError(PlanRenderer.json(plan))
            if plan.strategy == .plan {
                for step in plan.steps { printError("# phase \(step.name)\n" + ImageBuilder.debugScript(step: step)) }
            }
        }
        if let path = exportDockerfile {
            let export = try runPlanner { () throws(PlannerError) in try DockerfileExport.render(plan) }
            try runPlanner { () throws(PlannerError) in
                try PlanRenderer.writeAtomically(export.dockerfile, to: path)
                try PlanRenderer.writeAtomically(export.dockerignore, to: path + ".dockerignore")
            }
        }
        var build = try reportingErrors { try buildOptions() }
        build.registryCache = try cacheFlags.options(config: result.build)
        try runBuild(
            BuildRequest(source: .app(directory: dir, plan: result, planOptions: options), options: build),
            quiet: quiet, json: json, state: extractionLimits.stateDirectory)
    }

    /// The flags as engine options (every flag applies to both strategies; the engine refuses those that do not).
    func buildOptions() throws -> BuildOptions {
        var build = BuildOptions(output: try output.map { try outputLocation($0) })
        build.noCache = noCache
        build.parallelStages = !serialStages
        build.cacheDirectory = cacheDir.map(absolute)
        build.base = base
        build.runtimeBase = runtimeBase
        build.network = network
        build.caBundle = caBundle.map(absolute)
        build.platforms = try platformFlags.platforms()
        build.crossCompile = !platformFlags.noCrossCompile
        build.secrets = try secret.map { try Secret.parse($0) }
        build.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
        // Registry bases and a docker:// output use the same transport flags as `image push` (--insecure-registry,
        // credentials, timeouts, retries, parallelism).
        build.registryOptions = registryFlags.options
        build.credentials = registryFlags.transport.credentials
        build.toolchains = try toolchains.options()
        build.attestations = try attestationFlags.options()
        return build
    }

    /// `--output`: a layout (with or without the `oci-layout:` prefix), `docker://…` or `docker-archive:…`.
    func outputLocation(_ s: String) throws -> ImageLocation {
        if s.hasPrefix("docker://") || s.hasPrefix("docker-archive:") { return try ImageLocation(parsing: s) }
        let ref = try parseLayoutReference(s, flag: "--output")
        return .ociLayout(path: absolute(ref.path), tag: ref.tag)
    }

    func absolute(_ p: String) -> String {
        URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }
}

/// The terminal's width in columns (stderr), else $COLUMNS, else 80.
func terminalWidth() -> Int {
    var ws = winsize()
    if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
    if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
    return 80
}

/// Refreshes a terminal-mode reporter's status lines ten times a second until stopped (then clears them).
final class ProgressTicker {
    let reporter: BuildProgressReporter
    let timer: DispatchSourceTimer?

    init(_ reporter: BuildProgressReporter) {
        self.reporter = reporter
        guard case .terminal = reporter.mode else {
            timer = nil
            return
        }
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        t.schedule(deadline: .now() + 0.1, repeating: 0.1)
        t.setEventHandler { reporter.tick() }
        t.resume()
        timer = t
    }

    /// Idempotent.
    func stop() {
        if let timer, !timer.isCancelled { timer.cancel() }
        reporter.finish()
    }
}
