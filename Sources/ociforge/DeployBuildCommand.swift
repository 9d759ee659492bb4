import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge deploy-build`: maps flags onto `DeployBuildOptions`, runs `DeployBuildRunner`, prints the rewritten
/// files (standard output mode) and the summary table.
struct DeployBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy-build",
        abstract:
            "Build every resource of lttle / Compartment deployment files, push them, and rewrite the files with pinned images.",
        discussion: """
            Reads each file (multi-document YAML), finds lttle `machine:`/`app:` resources and Compartment `services:`
            with a `build:` block, builds them (plan or Dockerfile strategy, shared layer cache), pushes each to
            <registry>/<name>:<tag> (or its `image`), and writes the files back with each build block replaced by
            `image: <registry>/<name>:<tag>@sha256:…`. Nothing is rewritten unless every resource built and pushed.
            See docs/deploy-build.md.
            """)

    @Argument(help: "Deployment files (YAML; relative paths inside are relative to each file).")
    var files: [String]

    @Option(name: .customLong("registry"), help: "host/namespace the images are pushed below.")
    var registry: String

    @Option(
        name: .customLong("output-dir"),
        help: "Write the rewritten files here (same file names) instead of standard output.")
    var outputDir: String?

    @Flag(
        name: .customLong("in-place"),
        help: "Replace the input files (atomically, only after every resource was built and pushed).")
    var inPlace = false

    @Option(
        name: .customLong("env-file"),
        help: "KEY=VALUE lines over the environment, for Compartment build env keys (repeatable; later files win).")
    var envFiles: [String] = []

    @Option(name: [.short, .customLong("jobs")], help: "Resources built at the same time.")
    var jobs = 2

    @OptionGroup var platformFlags: PlatformFlags

    @Flag(name: .customLong("no-build-cache"), help: "Run every phase even when a cached layer exists.")
    var noBuildCache = false

    @Option(
        name: .customLong("cache-dir"), help: "Layer cache shared by all resources (default: <state dir>/build-cache).")
    var cacheDir: String?

    @Option(name: .customLong("ca-bundle"), help: "Extra trusted CAs (PEM) for build phases; never in the image.")
    var caBundle: String?

    @Option(name: .customLong("network"), help: "host (default) or none for build phases.")
    var network: NetworkMode = .host

    @Flag(name: .customLong("debug-build"), help: "Print each resource's resolved plan and generated phase scripts.")
    var debugBuild = false

    @Flag(name: [.short, .customLong("quiet")], help: "No phase output (progress lines, errors and the summary only).")
    var quiet = false

    @OptionGroup var registryFlags: RegistryFlags

    func validate() throws {
        if inPlace && outputDir != nil { throw ValidationError("use either --in-place or --output-dir, not both") }
        if !inPlace && outputDir == nil && files.count > 1 {
            throw ValidationError(
                "several files cannot go to standard output as one stream: use --output-dir or --in-place")
        }
        if jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64") }
    }

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        SignalGuard.install()
        try reportingErrors {
            var options = try makeOptions()
            options.workDirectory = try makeWorkDirectory()
            let work = options.workDirectory
            defer { try? FileManager.default.removeItem(atPath: work) }
            let result: DeployBuildResult
            do { result = try DeployBuildRunner(options: options).run(files: files) } catch let e as DeployBuildError {
                printError("error: \(e)")
                throw ExitCode(1)
            }
            if case .standardOutput = options.output {
                for f in result.files { FileHandle.standardOutput.write(Data(f.bytes)) }
            }
            printError(Self.table(result.resources))
            for path in result.written { printError("wrote \(path)") }
        }
    }

    func makeOptions() throws -> DeployBuildOptions {
        var environment = ProcessInfo.processInfo.environment
        for file in envFiles {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("--env-file \(file) cannot be read")
            }
            let values = try runPlanner { () throws(PlannerError) in
                try EnvFile.parse(String(decoding: data, as: UTF8.self), file: file)
            }
            environment.merge(values) { $1 }
        }
        var flags = registryFlags
        if flags.passwordStdin {  // read once: every push uses it
            flags.password = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .newlines)
            flags.passwordStdin = false
        }
        let pushFlags = flags
        var o = DeployBuildOptions(registry: registry, workDirectory: "", transport: pushFlags.transport)
        o.output = inPlace ? .inPlace : (outputDir.map { .directory($0) } ?? .standardOutput)
        o.jobs = jobs
        o.noCache = noBuildCache
        o.cacheDirectory = cacheDir.map(Self.absolute)
        o.caBundle = caBundle.map(Self.absolute)
        o.network = network
        o.debugBuild = debugBuild
        o.quiet = quiet
        o.environment = environment
        o.plannerEnvironment = ProcessInfo.processInfo.environment.filter {
            !["OCIFORGE_STATE_DIR", "OCIFORGE_USERNS"].contains($0.key)
        }
        o.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
        o.platforms = try platformFlags.platforms()
        o.crossCompile = !platformFlags.noCrossCompile
        o.registryOptions = flags.options
        let lock = NSLock()
        o.log = { line in
            lock.withLock { FileHandle.standardError.write(Data((line.hasSuffix("\n") ? line : line + "\n").utf8)) }
        }
        return o
    }

    func makeWorkDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/var/tmp"
        let dir = base + "/ociforge-deploy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return dir
    }

    static func absolute(_ p: String) -> String {
        URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }

    /// RESOURCE, STRATEGY (block form → plan strategy), IMAGE (pinned), SIZE (compressed), BUILD / PUSH seconds.
    static func table(_ rows: [DeployedResource]) -> String {
        let header = ["RESOURCE", "STRATEGY", "IMAGE", "SIZE", "BUILD", "PUSH"]
        let cells = rows.map { d -> [String] in
            let r = d.resource
            return [
                "\(r.location.file)#\(r.location.document) \(r.kind) \(r.name ?? "-")",
                "\(r.strategy) → \(d.planStrategy)", d.pinned,
                BuildFormat.bytes(d.size), String(format: "%.1f s", d.buildSeconds),
                String(format: "%.1f s", d.pushSeconds)
            ]
        }
        var widths = header.map(\.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        let line: ([String]) -> String = { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                separator: "  "
            )
            .trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + cells.map(line)).joined(separator: "\n")
    }
}
