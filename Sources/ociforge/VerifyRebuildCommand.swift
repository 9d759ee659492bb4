import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Sandbox

/// `ociforge verify-rebuild <image> [<dir>]`: rebuild from the recorded provenance and compare.
struct VerifyRebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-rebuild",
        abstract:
            "Rebuild an image from the plan or Dockerfile its provenance records and compare it with the original.",
        discussion: """
            Reads the in-toto/SLSA provenance attached to the image by `ociforge build`, rebuilds from <dir> with the
            recorded plan (as a frozen plan) or Dockerfile, build args, bases, network and SOURCE_DATE_EPOCH, in a
            fresh state directory (empty layer cache and cache mounts; only the Debian base tarballs and toolchain
            archives at their pinned digests are reused), and compares the two images layer by layer. Exit 0 when the manifests are identical;
            1 otherwise, naming each differing layer and the files that differ in it.
            """)

    @Argument(help: "oci-layout:<path>[:tag] or [docker://]host[:port]/repository[:tag]")
    var image: String

    @Argument(help: "The app directory (plan builds) or build context (Dockerfile builds) to rebuild from.")
    var directory: String = "."

    @Option(
        name: .customLong("secret"),
        help: "ID=env:VAR or ID=file:PATH, for builds that used secrets (their ids are recorded). Repeatable.")
    var secret: [String] = []

    @Option(
        name: .customLong("ca-bundle"),
        help: "Extra trusted CAs (PEM) for build phases, e.g. an egress proxy's; never in the image.")
    var caBundle: String?

    @Option(name: .customLong("keep"), help: "Keep the rebuilt image in this OCI layout directory.")
    var keep: String?

    @Flag(name: .customLong("json"), help: "Print the result as JSON on stdout.")
    var json = false

    @Flag(name: [.short, .customLong("quiet")], help: "No progress on stderr (errors only).")
    var quiet = false

    @OptionGroup var registryFlags: RegistryFlags

    @OptionGroup(title: "Extraction limits") var extractionLimits: ExtractionLimitFlags

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        SignalGuard.install()
        let reporter = BuildProgressReporter(mode: quiet ? .quiet : .plain) {
            FileHandle.standardError.write(Data($0.utf8))
        }
        let report = try reportingErrors { () throws -> RebuildCheckReport in
            var options = BuildOptions()
            options.caBundle = caBundle.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            options.secrets = try secret.map { try Secret.parse($0) }
            options.registryOptions = registryFlags.options
            options.credentials = registryFlags.transport.credentials
            options.events = { reporter.handle($0) }
            let request = RebuildCheckRequest(
                image: try ReferrerEndpoint.location(image), directory: directory, options: options, keepLayout: keep)
            let sandbox = try Sandbox.detect(state: extractionLimits.stateDirectory)
            do {
                return try BuildEngine.verifyRebuild(request, runner: sandbox)
            } catch {
                reporter.finish()
                printError("error: verify-rebuild failed: \(error)")
                throw ExitCode(2)
            }
        }
        reporter.finish()
        if json {
            print(String(decoding: try CanonicalJSON.encode(report), as: UTF8.self))
        } else {
            if let recorded = report.recordedSource, recorded != report.currentSource {
                print("source: \(report.currentSource) (the provenance records \(recorded))")
            }
            printComparison(report.comparison)
        }
        if !report.equal { throw ExitCode(1) }
    }
}
