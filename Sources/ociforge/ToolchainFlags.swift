import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner

/// `--toolchain-mirror key=url` (build, plan, freeze): a channel endpoint's base URL, over the environment's
/// `OCIFORGE_TOOLCHAINS_<KEY>_URL` and ociforge.toml's `[toolchains.mirrors]`. `--toolchain-keyring tool=file`:
/// the OpenPGP keyring verifying a signed-only channel (swift), over `OCIFORGE_TOOLCHAINS_<TOOL>_KEYRING` and
/// `[toolchains.<tool>] keyring`.
struct ToolchainFlags: ParsableArguments {
    @Option(
        name: .customLong("toolchain-mirror"),
        help:
            "Upstream toolchain channel mirror KEY=URL (repeatable; keys: node, go, zig, rust, java, dotnet, deno, deno-index, bun, python, ruby, gleam, dart, sbt, swift)."
    )
    var mirrors: [String] = []

    @Option(
        name: .customLong("toolchain-keyring"),
        help:
            "OpenPGP keyring TOOL=FILE verifying a channel that publishes only signatures (repeatable; swift: swift.org's keys, gpg --dearmor'ed)."
    )
    var keyrings: [String] = []

    /// The flags and the process environment as engine options.
    func options() throws -> ToolchainOptions {
        var o = ToolchainOptions(environment: ProcessInfo.processInfo.environment)
        for m in mirrors {
            let (k, v) = try parseKeyValue(m, flag: "--toolchain-mirror")
            o.mirrors[k] = v
        }
        for m in keyrings {
            let (k, v) = try parseKeyValue(m, flag: "--toolchain-keyring")
            o.keyrings[k] = URL(fileURLWithPath: v).standardizedFileURL.path
        }
        return o
    }
}

/// `plan` with every upstream toolchain pinned (`freeze`, `plan --resolve-toolchains`); the archives are verified
/// into the state directory's toolchain cache. A failure prints the engine's error and exits 1.
/// With `platforms` (`freeze --platform`), pinned for each of them (`platformPins`).
func pinToolchains(
    _ plan: ResolvedPlan, flags: ToolchainFlags, stateDirectory: String, platforms: [OCIWriter.Platform] = []
) throws -> ResolvedPlan {
    let options = try flags.options()
    do {
        let targets = try ToolchainResolution.platforms(plan, targets: platforms)
        return try runBlocking {
            try await ToolchainResolution.pin(
                plan, options: options, stateDirectory: stateDirectory, platforms: targets)
        }
    } catch let e as BuildEngineError {
        printError("error: \(e.message)\(e.cause.map { ": \($0)" } ?? "")")
        throw ExitCode(1)
    }
}
