import ArgumentParser
import Foundation
import OCIWriter
import Sandbox

/// `--platform os/arch[/variant][,…]`: one or more platforms.
func parsePlatforms(_ s: String) throws -> [Platform] {
    try s.split(separator: ",").map { try Platform(parsing: $0.trimmingCharacters(in: .whitespaces)) }
}

struct EmulatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulators",
        abstract: "Which foreign platforms can be built here (binfmt_misc handlers), and registering them.",
        subcommands: [EmulatorsStatus.self, EmulatorsEnable.self])
}

struct EmulatorsStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "For each platform: whether its programs can run in the sandbox, and how.")

    @Argument(
        help: "Platforms (default: linux/arm64 linux/arm/v7 linux/amd64 linux/riscv64 linux/ppc64le linux/s390x).")
    var platforms: [String] = [
        "linux/arm64", "linux/arm/v7", "linux/amd64", "linux/riscv64", "linux/ppc64le", "linux/s390x"
    ]

    func run() throws {
        let emulation = Emulation()
        var failed = false
        for s in platforms {
            let p = try reportingErrors { try Platform(parsing: s) }
            do {
                if let h = try emulation.require(p) {
                    print("\(p): emulated by \(h.interpreter) (\(h.name), flags \(String(h.flags.sorted())))")
                } else {
                    print("\(p): native")
                }
            } catch {
                failed = true
                print("\(p): not available: \(error.message)")
            }
        }
        if failed { throw ExitCode(3) }
    }
}

struct EmulatorsEnable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract:
            "Root: mount binfmt_misc and register Debian's qemu-user-static handler for each architecture with the fix-binary flag F."
    )

    @Argument(help: "Architectures or platforms (arm64, linux/arm/v7, …).")
    var architectures: [String] = ["arm64"]

    func run() throws {
        for a in architectures {
            let p = try reportingErrors { try Platform(parsing: a.contains("/") ? a : "linux/" + a) }
            let h = try reportingErrors { try Emulation().enable(p) }
            print(
                h.map {
                    "\(p): \($0.name) registered (interpreter \($0.interpreter), flags \(String($0.flags.sorted())))"
                } ?? "\(p): native")
        }
    }
}
