import BuildEngine
import Foundation
import Planner
import Testing

/// Must-show 1 of issue 12: every version-source fixture under Fixtures/planner is planned and its toolchains
/// resolved (`ociforge plan --resolve-toolchains` in-process: `Planner.plan` then `ToolchainResolution.pin`)
/// against `FixtureChannels` on loopback, and compared with Fixtures/planner/<name>/expected-toolchains.txt:
/// per toolchain the chosen source (debian/upstream), the file:line that asked, the version, and for upstream
/// toolchains every archive's URL and digest (the loopback base written as http://channels.test). The archives
/// are small test archives in the upstream layouts, for resolution only. Regenerate with
/// OCIFORGE_UPDATE_SNAPSHOTS=1 and review the diff by eye. The digests are linux/amd64's.
@Suite("Resolved toolchain snapshots") struct ResolvedToolchainSnapshotTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/planner"
    }()

    /// One fixture per version source of the issue (each asks for a version bookworm lacks).
    static let fixtures = [
        "version-engines-node-20", "version-nvmrc", "version-node-version-file", "node-packagemanager-field",
        "node-bun", "deno-json", "version-go-mod", "version-go-upstream", "version-python-version",
        "version-requires-python", "version-mise-toml", "version-tool-versions", "version-ruby-version",
        "version-rust-toolchain", "rust-cargo", "dotnet-csproj", "zig-build", "python-poetry-current",
        "toolchain-source-upstream", "gleam-toml", "dart-pubspec", "scala-sbt", "swift-package",
        "swift-upstream"
    ]

    @Test(arguments: fixtures) func resolvedSnapshot(name: String) async throws {
        let channels = try FixtureChannels()
        let state = channels.builder.dir + "/state"
        let planned = try Planner.plan(appDirectory: Self.root + "/" + name + "/app", options: PlanOptions()).plan
        var options = ToolchainOptions(mirrors: channels.mirrors)
        options.stateDirectory = state
        options.keyrings = ["swift": channels.keyring]
        let plan = try await ToolchainResolution.pin(planned, options: options, stateDirectory: state)
        let text = channels.stable(Self.render(plan))
        #expect(!text.contains("127.0.0.1"))
        let path = Self.root + "/" + name + "/expected-toolchains.txt"
        if ProcessInfo.processInfo.environment["OCIFORGE_UPDATE_SNAPSHOTS"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOfFile: path, encoding: .utf8), "no snapshot for \(name)")
        #expect(text == expected, "\(name): resolved toolchains differ from expected-toolchains.txt")
    }

    /// One block per toolchain and package manager, in plan order.
    static func render(_ plan: ResolvedPlan) -> String {
        var out = ""
        for t in plan.toolchains {
            let asked = t.request.map { "\($0.description) asks \"\($0.constraint)\"" } ?? "no version file"
            out += "\(t.name): \(t.source.rawValue) (\(asked))\n"
            if let d = t.debian {
                out += "  debian \(d.suite) \(t.version ?? "?"): \(t.packages.joined(separator: " "))\n"
            }
            if let up = t.upstream {
                out += "  channel \(up.channel), constraint \"\(up.constraint)\"\n"
                for (label, pin) in [("pin", up.pin), ("runtime pin", up.runtimePin)] {
                    guard let pin else { continue }
                    out += "  \(label) \(pin.version) \(pin.platform)\n"
                    for a in pin.artifacts ?? [] {
                        out += "    \(a.component) \(a.url)\n      \(a.digest) \(a.size) bytes\n"
                    }
                }
            }
        }
        for m in plan.packageManagers {
            let asked = m.request.map { " (\($0.description) asks \"\($0.constraint)\")" } ?? ""
            out += "package manager \(m.name) \(m.version ?? "-") via \(m.via.rawValue)\(asked)\n"
        }
        return out
    }
}
