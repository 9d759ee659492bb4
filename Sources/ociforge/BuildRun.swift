import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a build request on the engine with the sandbox as its runner, renders its events on stderr and prints the
/// report (shared by `build` and `dockerfile build`). Exit status: 1 when the build fails, 2 when the planner
/// rejects the Dockerfile evaluated against its bases.
/// `hideOutput`: progress lines without the steps' output (`dockerfile build --quiet`).
/// `state`: the state directory with the extraction limits of the command's flags.
func runBuild(
    _ request: BuildRequest, quiet: Bool, json: Bool, hideOutput: Bool = false,
    state: StateDirectory = .default()
) throws {
    // Progress: plain lines, or on a terminal live status lines redrawn in place; nothing with --quiet.
    let mode: BuildProgressReporter.Mode =
        quiet ? .quiet : (isatty(2) != 0 ? .terminal(width: terminalWidth()) : .plain)
    let reporter = BuildProgressReporter(mode: mode) { FileHandle.standardError.write(Data($0.utf8)) }
    var request = request
    request.options.events = { event in
        if hideOutput, case .output = event { return }
        reporter.handle(event)
    }
    let ticker = ProgressTicker(reporter)
    defer { ticker.stop() }
    try reportingErrors {
        let sandbox = try Sandbox.detect(state: state)
        let report: BuildReport
        do {
            defer { ticker.stop() }  // status lines cleared before the report or the error is printed
            let r = request
            report = try runBlocking { try await BuildEngine.build(r, runner: sandbox) }
        } catch let e as BuildEngineError {
            printError("error: build failed: \(e)")
            throw ExitCode(e.code == .planner ? 2 : 1)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            printBuildReport(report)
        }
    }
}

/// The build report as text on stdout (warnings on stderr).
func printBuildReport(_ r: BuildReport) {
    print("image \(r.reference) → \(r.output)")
    if r.output != "oci-layout:\(r.layout):\(r.tag)" { print("built in oci-layout:\(r.layout):\(r.tag)") }
    print("manifest \(r.manifestDigest)")
    print(
        "size \(BuildFormat.bytes(r.imageSize)) compressed, \(BuildFormat.bytes(r.imageUncompressedSize)) uncompressed"
            + (r.buildStageSize > 0
                ? " (build stage \(BuildFormat.bytes(r.buildStageSize)) compressed, \(BuildFormat.bytes(r.buildStageUncompressedSize)) uncompressed)"
                : ""))
    for l in r.layers {
        print(
            "  \(l.digest.description.prefix(19))  \(BuildFormat.bytes(l.size).padding(toLength: 10, withPad: " ", startingAt: 0)) \(l.cached ? "cached" : "new   ") \(l.createdBy.prefix(90))"
        )
    }
    print(
        "ran: \(r.executed.isEmpty ? "nothing (all cached)" : r.executed.joined(separator: ", ")); total \(String(format: "%.1f", r.totalSeconds)) s"
    )
    for a in r.attestations { print("attached \(a.artifactType?.rawValue ?? a.mediaType.rawValue) \(a.digest)") }
    if let tag = r.signatureTag { print("signed: signature at tag \(tag)") }
    for w in r.warnings { printError(renderWarning(w)) }
}

/// A build warning as one stderr line, `warning: [step: ]message[: cause]` (the `--json` report carries its code
/// and the cause as a field).
func renderWarning(_ w: BuildWarning) -> String { "warning: \(w)" }
