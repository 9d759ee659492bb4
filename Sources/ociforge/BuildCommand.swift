import ArgumentParser
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

    @Option(name: [.short, .customLong("output")],
            help: "Where the image goes: oci-layout:<path>[:tag] (default: <app>/.ociforge/oci with the plan's tag), docker://<reference> (pushed after building into the default layout) or docker-archive:<file>[:name].")
    var output: String?

    @Option(name: .customLong("image"), help: "Full image reference (overrides --name/--tag).")
    var image: String?

    @Option(name: .customLong("base"), help: "Build image: debian:<suite> (mmdebstrap minbase), a rootfs directory or tarball.")
    var base: String?

    @Option(name: .customLong("runtime-base"), help: "Runtime base: debian:<suite>[-slim], a rootfs directory or tarball.")
    var runtimeBase: String?

    @Option(name: .customLong("platform"), help: "os/arch[/variant]; only the host's platform can be built.")
    var platform: String?

    @Flag(name: .customLong("no-cache"), help: "Run every phase even when a cached layer exists.")
    var noCache = false

    @Option(name: .customLong("cache-dir"), help: "Layer cache directory (default: <state dir>/build-cache).")
    var cacheDir: String?

    @Option(name: .customLong("secret"), help: "ID=env:VAR or ID=file:PATH: /run/secrets/ID (and $ID) in build phases. Repeatable.")
    var secret: [String] = []

    @Option(name: .customLong("network"), help: "host (default) or none for build phases.")
    var network: NetworkMode = .host

    @Option(name: .customLong("ca-bundle"), help: "Extra trusted CAs (PEM) for build phases, e.g. an egress proxy's; never in the image.")
    var caBundle: String?

    @Flag(name: .customLong("debug-build"), help: "Print the resolved plan and the generated phase scripts.")
    var debugBuild = false

    @Flag(name: .customLong("json"), help: "Print the result as JSON on stdout.")
    var json = false

    @OptionGroup var registryFlags: RegistryFlags

    @Option(name: .customLong("export-dockerfile"), help: "Also write the plan as a Dockerfile to this path (and <path>.dockerignore).")
    var exportDockerfile: String?

    @Flag(name: [.short, .customLong("quiet")], help: "No progress or phase output on stderr (errors and warnings only).")
    var quiet = false

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        SignalGuard.install()
        var options = try planner.planOptions()
        if let image { options.image = image }
        // ociforge's own runtime settings are not planner settings.
        options.environment = options.environment.filter { !["OCIFORGE_STATE_DIR", "OCIFORGE_USERNS"].contains($0.key) }
        let dir = planner.directory
        let result = try runPlanner { () throws(PlannerError) in try Planner.plan(appDirectory: dir, options: options) }
        reportPlannerWarnings(result.warnings)
        let plan = result.plan
        printError(PlanRenderer.summary(plan))
        if debugBuild { printError(PlanRenderer.json(plan)) }
        if let path = exportDockerfile {
            let export = try runPlanner { () throws(PlannerError) in try DockerfileExport.render(plan) }
            try runPlanner { () throws(PlannerError) in
                try PlanRenderer.writeAtomically(export.dockerfile, to: path)
                try PlanRenderer.writeAtomically(export.dockerignore, to: path + ".dockerignore")
            }
        }

        let (layoutPath, tag) = try outputTarget(plan: plan)
        var build = BuildOptions(layoutPath: layoutPath, tag: tag, reference: plan.image.reference)
        if plan.strategy == .dockerfile {  // Dockerfile strategy: the same engine, through DockerfileExecutor
            let resolved = try result.dockerfile ?? runPlanner { () throws(PlannerError) in
                try Planner.resolveDockerfile(appDirectory: dir, plan: plan, options: options)
            }
            build.noCache = noCache
            build.cacheDirectory = cacheDir.map(absolute)
            build.network = network
            // FROM / COPY --from registry images are pulled with the same transport flags as `image pull`
            // (--insecure-registry for plain-HTTP hosts that are not loopback, timeouts, retries, parallelism).
            build.registryOptions = registryFlags.options
            build.progress = progressPrinter()
            if quiet { build.phaseOutput = { _, _ in } }
            let context = absolute(dir) + "/" + (plan.dockerfile?.context ?? ".")
            try executeDockerfile(resolved, context: context, options: build, secrets: secret, json: json) { configs in
                var again = options
                again.baseImages = configs
                return try runPlanner { () throws(PlannerError) in
                    try Planner.resolveDockerfile(appDirectory: dir, plan: plan, options: again)
                }
            }
            return
        }
        build.noCache = noCache
        build.cacheDirectory = cacheDir.map(absolute)
        build.base = base
        build.runtimeBase = runtimeBase
        build.network = network
        build.caBundle = caBundle.map(absolute)
        if let platform { build.platform = try Platform(parsing: platform) }
        // Progress: plain lines, or on a terminal live status lines redrawn in place; nothing with --quiet.
        let mode: BuildProgressReporter.Mode = quiet ? .quiet : (isatty(2) != 0 ? .terminal(width: terminalWidth()) : .plain)
        let reporter = BuildProgressReporter(mode: mode) { FileHandle.standardError.write(Data($0.utf8)) }
        build.events = { reporter.handle($0) }
        build.progress = { reporter.handle(.message($0)) }
        let ticker = ProgressTicker(reporter)
        defer { ticker.stop() }
        try reportingErrors {
            build.secrets = try secret.map { try Secret.parse($0) }
            build.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
            let sandbox = try Sandbox.detect()
            if debugBuild {
                for step in plan.steps {
                    printError("# phase \(step.name)\n" + ImageBuilder.debugScript(step: step))
                }
            }
            let builder = try ImageBuilder(plan: plan, appDirectory: dir, options: build, sandbox: sandbox)
            let report: BuildReport
            do {
                defer { ticker.stop() }  // status lines cleared before the report or the error is printed
                report = try builder.build()
            } catch let e as BuildError {
                printError("error: build failed: \(e)")
                throw ExitCode(1)
            }
            if let output, isTransfer(output) {
                let t = Date()
                build.progress("sending the image to \(output)")
                let digest = try ImageTransport.copy(try ImageLocation(parsing: "oci-layout:\(report.layout):\(report.tag)"),
                                                     try ImageLocation(parsing: output), flags: registryFlags, platform: nil)
                build.progress("sent \(digest) to \(output) in \(String(format: "%.1f", Date().timeIntervalSince(t))) s")
            }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(report), as: UTF8.self))
            } else {
                printSummary(report)
            }
        }
    }

    func outputTarget(plan: ResolvedPlan) throws -> (String, String) {
        let defaultTag = plan.image.tag.isEmpty ? "latest" : plan.image.tag
        guard let output else {
            return (absolute(planner.directory) + "/.ociforge/oci", defaultTag)
        }
        if isTransfer(output) {
            return (absolute(planner.directory) + "/.ociforge/oci", defaultTag)
        }
        let ref = try parseLayoutReference(output, flag: "--output")
        return (absolute(ref.path), ref.tag ?? defaultTag)
    }

    func isTransfer(_ s: String) -> Bool { s.hasPrefix("docker://") || s.hasPrefix("docker-archive:") }

    func absolute(_ p: String) -> String {
        URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
    }

    func printSummary(_ r: BuildReport) {
        print("image \(r.reference) → oci-layout:\(r.layout):\(r.tag)")
        print("manifest \(r.manifestDigest)")
        print("size \(ImageBuilder.bytes(r.imageSize)) compressed, \(ImageBuilder.bytes(r.imageUncompressedSize)) uncompressed"
              + " (build stage \(ImageBuilder.bytes(r.buildStageSize)) compressed, \(ImageBuilder.bytes(r.buildStageUncompressedSize)) uncompressed)")
        for l in r.layers {
            print("  \(l.digest.prefix(19))  \(ImageBuilder.bytes(l.size).padding(toLength: 10, withPad: " ", startingAt: 0)) \(l.cached ? "cached" : "new   ") \(l.createdBy.prefix(90))")
        }
        print("ran: \(r.executed.isEmpty ? "nothing (all cached)" : r.executed.joined(separator: ", ")); total \(String(format: "%.1f", r.totalSeconds)) s")
        for w in r.warnings { printError("warning: \(w)") }
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
        guard case .terminal = reporter.mode else { timer = nil; return }
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
