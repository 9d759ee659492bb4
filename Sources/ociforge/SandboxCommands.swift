import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

extension NetworkMode: ExpressibleByArgument {}

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run a build phase in namespaces and capture its filesystem diff (debugging and tests).",
        subcommands: [SandboxRun.self, SandboxDiff.self])
}

/// Options shared by `run` and `diff`: the base and the earlier phases below the phase.
struct SandboxBaseOptions: ParsableArguments {
    @Option(
        help:
            "The base root filesystem: a directory, a rootfs tarball, oci-layout:<path>[:tag], registry:<reference>, or debian:<suite> (mmdebstrap minbase)."
    )
    var base: String

    @Option(
        name: .customLong("layer"),
        help: "An upper directory of an earlier phase (--keep-upper), bottom first. Repeatable.")
    var layers: [String] = []

    @OptionGroup(title: "Extraction limits") var extractionLimits: ExtractionLimitFlags
}

struct SandboxRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command on a base (and earlier phases) in a sandbox; print or save what it changed.")

    @OptionGroup var baseOptions: SandboxBaseOptions

    @Option(help: "host (shared, default) or none (own network namespace with loopback only).")
    var network: NetworkMode = .host

    @Option(help: "Kill the phase and all its processes after this many seconds (0 = no limit).")
    var timeout: UInt64 = 0

    @Option(help: "A persistent cache mounted into the phase, never part of a layer: NAME:/path. Repeatable.")
    var cache: [String] = []

    @Option(help: "A secret as the file /run/secrets/ID on a tmpfs: ID=env:VAR or ID=file:PATH. Repeatable.")
    var secret: [String] = []

    @Option(name: .customLong("env"), help: "An environment variable for the command: KEY=VALUE. Repeatable.")
    var environment: [String] = []

    @Option(help: "The working directory inside the root.")
    var workdir: String = "/"

    @Option(help: "Run the command as UID[:GID] of the namespace (default 0:0, with the build capabilities).")
    var user: String = "0:0"

    @Option(help: "The phase name used to prefix output lines.")
    var name: String = "run"

    @Option(help: "Keep the phase's upper directory at this path (use it as --layer of later runs).")
    var keepUpper: String?

    @Option(help: "Write the change set (one `add|delete|opaque <path>` line per change) to this file.")
    var outputChanges: String?

    @Option(help: "Write what the phase changed as an OCI layer (gzip tar) to this file.")
    var outputLayer: String?

    @Flag(help: "Print the phase's run and diff wall times.")
    var timings = false

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty {
            throw ValidationError(
                "give the command after --, e.g. ociforge sandbox run --base debian:trixie -- apt-get update")
        }
        for e in environment where !e.contains("=") { throw ValidationError("--env '\(e)': expected KEY=VALUE") }
    }

    func run() throws {
        if Rootless.needsReexec {
            // mmdebstrap needs the user's own /etc/subuid range (its unshare mode): assemble a Debian base
            // before entering the namespace; inside, the cached tarball is found by the same key.
            if case .debian(let suite, let variant, let packages, let mirror) = try BaseSource.parse(baseOptions.base) {
                do {
                    _ = try BaseStore(state: .default(), identity: try SandboxIdentity.detect())
                        .debianTarball(
                            suite: suite, variant: variant, packages: packages, mirror: mirror, log: { info($0) })
                } catch let e as SandboxError {
                    warn(e.description)
                    throw ExitCode(125)
                }
            }
            throw ExitCode(try Rootless.reexec())
        }
        SignalGuard.install()
        do {
            let sandbox = try Sandbox.detect(state: baseOptions.extractionLimits.stateDirectory)
            if let w = sandbox.identity.warning, sandbox.identity.kind == .singleID || sandbox.identity.kind == .nested
            {
                if ProcessInfo.processInfo.environment[Rootless.marker] == nil { warn(w) }
            }
            let base = try BaseStore(state: sandbox.state, identity: sandbox.identity)
                .rootfs(for: try BaseSource.parse(baseOptions.base), log: { info($0) })
            var phase = PhaseSpec(name: name, command: command)
            phase.network = network
            phase.timeoutSeconds = timeout
            phase.caches = try cache.map(CacheMount.parse)
            phase.secrets = try secret.map { try Secret.parse($0) }
            for e in environment {
                let i = e.firstIndex(of: "=")!
                phase.environment[String(e[..<i])] = String(e[e.index(after: i)...])
            }
            phase.workingDirectory = workdir
            let ids = user.split(separator: ":", maxSplits: 1).map { UInt32($0) }
            guard let uid = ids.first ?? nil, ids.count == 1 || ids[1] != nil else {
                throw SandboxError(.invalidArgument, "--user '\(user)': expected numeric UID or UID:GID")
            }
            phase.uid = uid
            phase.gid = ids.count > 1 ? ids[1]! : uid
            let outcome = try sandbox.run(phase, base: base, layers: try absolute(baseOptions.layers))
            defer { outcome.discard() }
            for w in outcome.warnings { warn(w) }
            if timings {
                info(
                    String(
                        format: "timings: run %.3f s (namespaces, mounts, command), diff %.3f s", outcome.runSeconds,
                        outcome.diffSeconds))
            }
            try report(outcome.changes, to: outputChanges)
            if let outputLayer {
                let t0 = Date()
                let r = try outcome.writeLayer(
                    to: outputLayer,
                    options: LayerWriteOptions(sourceDateEpoch: try LayerWriteOptions.sourceDateEpochFromEnvironment()))
                for w in r.warnings { warn(w) }
                info(
                    "layer \(outputLayer): \(r.digest) (\(r.size) bytes, diff_id \(r.diffID), \(r.entryCount) entries)"
                        + (timings ? String(format: " written in %.3f s", Date().timeIntervalSince(t0)) : ""))
            }
            if let keepUpper { try keep(outcome.upper, at: keepUpper) }
        } catch let e as SandboxError {
            warn(e.description)
            switch e.code {
            case .commandFailed: throw ExitCode(e.exitStatus ?? 1)
            case .timedOut: throw ExitCode(124)
            case .interrupted: throw ExitCode(130)
            default: throw ExitCode(125)
            }
        } catch let e as OCIWriterError {
            warn("\(e)")
            throw ExitCode(125)
        }
    }
}

struct SandboxDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compute the change set of a kept upper directory against its base and earlier phases.")

    @OptionGroup var baseOptions: SandboxBaseOptions

    @Option(help: "The phase's upper directory (from `sandbox run --keep-upper`).")
    var upper: String

    @Option(help: "Write the change set (one `add|delete|opaque <path>` line per change) to this file ('-' = stdout).")
    var outputChanges: String?

    @Option(help: "Write the change set as an OCI layer (gzip tar) to this file.")
    var outputLayer: String?

    func validate() throws {
        if outputChanges == nil && outputLayer == nil {
            throw ValidationError("give --output-layer FILE and/or --output-changes FILE|-")
        }
    }

    func run() throws {
        if Rootless.needsReexec { throw ExitCode(try Rootless.reexec()) }
        do {
            let sandbox = try Sandbox.detect(state: baseOptions.extractionLimits.stateDirectory)
            let base = try BaseStore(state: sandbox.state, identity: sandbox.identity)
                .rootfs(for: try BaseSource.parse(baseOptions.base), log: { info($0) })
            let lowers = Array(try absolute(baseOptions.layers).reversed()) + [base]
            let diff = try UpperDiff(
                upper: try absolute([upper])[0], lowers: lowers,
                createdMountPoints: ["proc", "dev", "sys", "etc/resolv.conf", "etc/hosts", "etc/hostname"]
            ).compute()
            for w in diff.warnings { warn(w) }
            try report(diff.changes, to: outputChanges)
            if let outputLayer {
                let r = try LayerWriter.write(
                    changes: diff.changes, to: outputLayer,
                    options: LayerWriteOptions(
                        sourceDateEpoch: try LayerWriteOptions.sourceDateEpochFromEnvironment(),
                        idMapping: sandbox.identity.idMapping))
                for w in r.warnings { warn(w) }
                info(
                    "layer \(outputLayer): \(r.digest) (\(r.size) bytes, diff_id \(r.diffID), \(r.entryCount) entries)")
            }
        } catch let e as SandboxError {
            warn(e.description)
            throw ExitCode(125)
        } catch let e as OCIWriterError {
            warn("\(e)")
            throw ExitCode(125)
        }
    }
}

private func absolute(_ paths: [String]) throws -> [String] {
    try paths.map { p in
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else {
            throw SandboxError(.invalidArgument, "'\(p)' is not a directory")
        }
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }
}

/// Writes the change set as text lines, sorted by path (to a temp file renamed into place).
private func report(_ cs: ChangeSet, to path: String?) throws {
    var adds = 0, deletes = 0, opaques = 0
    var lines: [String] = []
    for c in cs.changes {
        switch c {
        case .add(let p, _):
            adds += 1
            lines.append("add \(p)")
        case .delete(let p):
            deletes += 1
            lines.append("delete \(p)")
        case .opaque(let p):
            opaques += 1
            lines.append("opaque \(p)")
        }
    }
    lines.sort {
        $0.split(separator: " ", maxSplits: 1)[1].utf8.lexicographicallyPrecedes(
            $1.split(separator: " ", maxSplits: 1)[1].utf8)
    }
    info("changes: \(adds) added/modified, \(deletes) deleted, \(opaques) opaque directories")
    guard let path else { return }
    let text = lines.map { $0 + "\n" }.joined()
    if path == "-" {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    let tmp = path + ".tmp-\(getpid())"
    guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
        throw SandboxError(.invalidArgument, "cannot write \(tmp)")
    }
    if rename(tmp, path) != 0 {
        unlink(tmp)
        throw SandboxError(.invalidArgument, "cannot write", errno: errno, detail: path)
    }
}

/// Moves (or copies, across file systems) a phase's upper directory to `dest`.
private func keep(_ upper: String, at dest: String) throws {
    if FileManager.default.fileExists(atPath: dest) {
        throw SandboxError(.invalidArgument, "--keep-upper: \(dest) already exists")
    }
    if rename(upper, dest) == 0 { return }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/cp")
    p.arguments = ["-a", "--no-target-directory", upper, dest]
    try p.run()
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw SandboxError(.invalidArgument, "cannot copy the upper directory to \(dest)") }
}

private func warn(_ s: String) { FileHandle.standardError.write(Data("ociforge: \(s)\n".utf8)) }
private func info(_ s: String) { FileHandle.standardError.write(Data("ociforge: \(s)\n".utf8)) }
