import Foundation
import Planner
import Testing

@testable import BuildEngine
@testable import Toolchains

/// `[toolchains.<tool>] mirror` points the tool's whole channel at one base: the index, the checksums and the
/// downloads, also when the index (a verbatim copy of the upstream one) names the upstream download hosts.
@Suite("Whole-channel mirrors") struct WholeChannelMirrorTests {
    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/planner"
    }()

    @Test func upstreamDownloadHostsAreRebasedOntoTheMirror() {
        var s = ChannelSettings()
        let gh = "https://github.com/oven-sh/bun/releases/download/bun-v1.1.38/bun-linux-x64.zip"
        #expect(s.rebase(gh, .bun) == gh, "no mirror: used as published")
        for e in [ChannelEndpoint.bun, .python, .ruby, .java, .zig] {
            s[e] = URL(string: "http://m.test/\(e.rawValue)")!
        }
        #expect(s.rebase(gh, .bun) == "http://m.test/bun/releases/download/bun-v1.1.38/bun-linux-x64.zip")
        #expect(
            s.rebase("https://github.com/jdx/ruby/releases/download/3.4.1/ruby-3.4.1.x86_64_linux.tar.gz", .ruby)
                == "http://m.test/ruby/releases/download/3.4.1/ruby-3.4.1.x86_64_linux.tar.gz")
        #expect(
            s.rebase(
                "https://github.com/adoptium/temurin21-binaries/releases/download/jdk-21.0.5%2B11/OpenJDK21U.tar.gz",
                .java)
                == "http://m.test/java/adoptium/temurin21-binaries/releases/download/jdk-21.0.5%2B11/OpenJDK21U.tar.gz")
        #expect(
            s.rebase("https://ziglang.org/builds/zig-x86_64-linux-0.15.0-dev.1.tar.xz", .zig)
                == "http://m.test/zig/builds/zig-x86_64-linux-0.15.0-dev.1.tar.xz")
        // Another repository's assets, or a look-alike host prefix, are not the channel's.
        let other = "https://github.com/oven-sh/bunny/releases/download/x/y.zip"
        #expect(s.rebase(other, .bun) == other)
        #expect(ToolKind.deno.endpoints == [.denoIndex, .deno] && ToolKind.bun.endpoints == [.bun])
    }

    /// The fixture's toolchain `name` with its per-tool mirror set (what `[toolchains.<name>] mirror` gives).
    func plan(_ fixture: String, mirror: String) throws -> ResolvedPlan {
        var p = try Planner.plan(appDirectory: Self.fixtures + "/\(fixture)/app", options: PlanOptions()).plan
        p.toolchains[0].upstream?.mirror = mirror
        return p
    }

    @Test func perToolMirrorServesIndexAndDownloads() async throws {
        let channels = try FixtureChannels()
        let server = channels.server
        // Deno's two sites (versions.json and dl) as one tree under /whole-deno.
        let zip = "release/v2.1.4/deno-x86_64-unknown-linux-gnu.zip"
        for (from, to) in [("/deno-index/versions.json", "versions.json"), ("/deno/" + zip, zip)] {
            server.put("/whole-deno/" + to, try #require(server.body(from)))
        }
        server.put("/whole-deno/\(zip).sha256sum", try #require(server.body("/deno/\(zip).sha256sum")))
        let state = channels.builder.dir + "/state"
        var options = ToolchainOptions()
        options.stateDirectory = state

        let deno = try await ToolchainResolution.pin(
            try plan("deno-json", mirror: channels.base + "/whole-deno"), options: options, stateDirectory: state)
        let denoPin = try #require(deno.toolchains[0].upstream?.pin)
        #expect(denoPin.url == channels.base + "/whole-deno/" + zip)
        #expect(server.count("/whole-deno/versions.json") == 1 && server.count("/whole-deno/" + zip) == 1)
        #expect(server.count("/deno-index/versions.json") == 0 && server.count("/deno/" + zip) == 0)

        // Bun's listing names github.com assets; with the mirror they come from <mirror>/releases/download.
        let bun = try await ToolchainResolution.pin(
            try plan("node-bun", mirror: channels.base + "/bun"), options: options, stateDirectory: state)
        let bunPin = try #require(bun.toolchains.first { $0.name == "bun" }?.upstream?.pin)
        #expect(bunPin.url == channels.base + "/bun/releases/download/bun-v1.1.38/bun-linux-x64.zip")
        #expect(server.count("/bun/releases/download/bun-v1.1.38/SHASUMS256.txt") == 1)
    }
}
