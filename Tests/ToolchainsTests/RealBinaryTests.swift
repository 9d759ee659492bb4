import Foundation
import Testing

@testable import Toolchains

/// The official Node, Deno and Zig executables (from their PyPI wheels), repackaged by `scripts/toolchain-mirror`
/// into the upstream channel layouts and served on loopback: listed, verified, installed and run from the tree.
enum RealMirror {
    enum Outcome { case ready(String), pypiUnreachable, failed(Int32) }

    /// `$OCIFORGE_TOOLCHAIN_MIRROR`, else `/tmp/ociforge-toolchain-mirror-<uid>` (kept between runs; the script
    /// only downloads and repackages what is missing).
    static let directory =
        ProcessInfo.processInfo.environment["OCIFORGE_TOOLCHAIN_MIRROR"]
        ?? "/tmp/ociforge-toolchain-mirror-\(getuid())"

    static let outcome: Outcome = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: repo + "/scripts/toolchain-mirror")
        p.arguments = [directory]
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return .failed(-1) }
        p.waitUntilExit()
        switch p.terminationStatus {
        case 0: return .ready(directory)
        case 3: return .pypiUnreachable
        case let s: return .failed(s)
        }
    }()

    static var available: Bool {
        if case .pypiUnreachable = outcome { return false }
        return true
    }
}

@Suite(
    "Toolchain real binaries", .serialized,
    .enabled(
        if: RealMirror.available,
        "PyPI is unreachable: scripts/toolchain-mirror cannot fetch the node, deno and zig wheels"))
struct RealBinaryTests {
    @Test(arguments: [
        (ToolKind.node, "24.19.0", "bin/node", ["--version"], "v24.19.0"),
        (.deno, "2.9.8", "deno", ["--version"], "deno 2.9.8"),
        (.zig, "0.14.1", "zig", ["version"], "0.14.1")
    ])
    func installsAndRunsTheOfficialBinary(
        tool: ToolKind, version: String, executable: String, args: [String],
        output: String
    ) async throws {
        guard case .ready(let dir) = RealMirror.outcome else {
            Issue.record("scripts/toolchain-mirror failed: \(RealMirror.outcome)")
            return
        }
        let server = try LoopbackServer()
        defer { server.stop() }
        server.serveDirectory(dir)
        var settings = ChannelSettings()
        for e in [ChannelEndpoint.node, .deno, .denoIndex, .zig] {
            settings[e] = URL(string: "\(server.base)/\(e.rawValue)")!
        }
        let work = NSTemporaryDirectory() + "tc-real-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let installer = ToolchainInstaller(
            channels: ToolchainChannels(settings: settings), stateDirectory: work + "/state")

        let releases = try await installer.channels.listReleases(tool, platform: .linuxAMD64)
        let release = try #require(releases.first { $0.versionNumber == version })
        let clock = ContinuousClock()
        let t0 = clock.now
        let staged = try await installer.install(release, into: work + "/staging")
        let cold = clock.now - t0
        let bin = staged.stagingDirectory + staged.prefix + "/" + executable
        let env = [
            "PATH": staged.environment.path(prependingTo: "/usr/bin:/bin").replacingOccurrences(
                of: staged.prefix, with: staged.stagingDirectory + staged.prefix), "HOME": work
        ]
        let out = try #require(runOutput(bin, args, env: env))
        #expect(out.hasPrefix(output))
        if tool == .node {
            // npm is a `#!/usr/bin/env node` script: it runs with the toolchain's PATH entry.
            #expect(
                runOutput(staged.stagingDirectory + staged.prefix + "/bin/npm", ["--version"], env: env)?.isEmpty
                    == false)
        }
        // A second install from the cache makes no archive request.
        server.resetCounts()
        let t1 = clock.now
        let again = try await installer.install(staged.pin, into: work + "/staging2")
        let cached = clock.now - t1
        #expect(server.totalRequests == 0 && !again.archives[0].downloaded)
        print(
            "toolchain-figures: \(tool.rawValue) \(version) archive \(staged.archives[0].size) bytes, install cold \(cold) (download+verify+unpack), from cache \(cached) (unpack)"
        )
    }
}
