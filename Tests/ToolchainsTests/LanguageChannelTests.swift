import BuildEngine
import Foundation
import Planner
import Testing

@testable import Toolchains

/// The channels of the languages Debian lacks (gleam, dart, sbt) on loopback: listing, arm64 naming, install and
/// run, environment, a checksum mismatch refused with nothing cached, and plans resolved through
/// `ToolchainResolution` (gleam with Debian's erlang). Swift has its own suite (SwiftChannelTests).
@Suite("Gleam, Dart and sbt channels") struct LanguageChannelTests {
    let mirror: ChannelMirror
    init() throws { mirror = try ChannelMirror() }

    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/planner"
    }()

    func list(_ tool: ToolKind, _ platform: Toolchains.Platform = .linuxAMD64) async throws -> [ChannelRelease] {
        try await ToolchainChannels(settings: mirror.settings).listReleases(tool, platform: platform)
    }

    @Test func gleamListsMuslBuildsWithTheirSHA256Files() async throws {
        let r = try await list(.gleam)
        #expect(r.map(\.version) == ["v1.12.0-rc1", "v1.11.1"])  // 1.10.0: no x86_64 build; 1.9.1: no checksum
        #expect(r[0].isPrerelease && !r[1].isPrerelease && r[1].versionNumber == "1.11.1" && r[1].date == "2025-06-05")
        let name = "gleam-v1.11.1-x86_64-unknown-linux-musl.tar.gz"
        #expect(r[1].artifacts[0].url == "\(mirror.base)/gleam-dl/v1.11.1/\(name)")
        #expect(
            r[1].artifacts[0].checksum
                == .file(url: "\(mirror.base)/gleam-dl/v1.11.1/\(name).sha256", fileName: name, algorithm: .sha256))
        let arm = try await list(.gleam, .linuxARM64)
        #expect(arm.map(\.versionNumber) == ["1.11.1", "1.10.0"])
        #expect(arm[0].artifacts[0].url.hasSuffix("/gleam-v1.11.1-aarch64-unknown-linux-musl.tar.gz"))
    }

    @Test func dartFollowsListingPagesAndSkipsNonVersions() async throws {
        let r = try await list(.dart)
        #expect(r.map(\.versionNumber) == ["1.24.3", "3.4.4", "3.5.4"])  // 30188/ and latest/ are not versions
        let zip = "\(mirror.base)/dart/dart-archive/channels/stable/release/3.5.4/sdk/dartsdk-linux-x64-release.zip"
        #expect(r[2].artifacts[0].url == zip && r[2].artifacts[0].format == .zip)
        #expect(
            r[2].artifacts[0].checksum
                == .file(url: zip + ".sha256sum", fileName: "dartsdk-linux-x64-release.zip", algorithm: .sha256))
        let arm = try await list(.dart, .linuxARM64)
        #expect(arm[2].artifacts[0].url.hasSuffix("/3.5.4/sdk/dartsdk-linux-arm64-release.zip"))
        #expect(DartChannel.isVersion("3.6.0-216.1.beta") && !DartChannel.isVersion("30188"))
        #expect(!DartChannel.isVersion("latest") && !DartChannel.isVersion("3.5") && !DartChannel.isVersion("3.5.4-"))
    }

    @Test func sbtTakesTheSHA256AssetElseTheDigest() async throws {
        let r = try await list(.sbt)
        #expect(r.map(\.versionNumber) == ["1.11.0-RC1", "1.10.7", "1.10.6"])  // 1.9.9 has no checksum
        #expect(r[0].isPrerelease && !r[1].isPrerelease)
        #expect(r[1].artifacts[0].url == "\(mirror.base)/sbt-dl/v1.10.7/sbt-1.10.7.tgz")
        #expect(
            r[1].artifacts[0].checksum
                == .file(
                    url: "\(mirror.base)/sbt-dl/v1.10.7/sbt-1.10.7.tgz.sha256", fileName: "sbt-1.10.7.tgz",
                    algorithm: .sha256))
        #expect(r[2].artifacts[0].checksum == .inline(Checksum(.sha256, hex: String(repeating: "6", count: 64))!))
        // One launcher for every platform.
        #expect(try await list(.sbt, .linuxARM64).map(\.versionNumber) == r.map(\.versionNumber))
    }

    @Test(arguments: [
        (ToolKind.gleam, "1.11.1", "gleam", "gleam 1.11.1", ["/opt/ociforge/toolchains/gleam/1.11.1"]),
        (.dart, "3.5.4", "bin/dart", "Dart SDK version: 3.5.4 (stable)", ["/opt/ociforge/toolchains/dart/3.5.4/bin"]),
        (.sbt, "1.10.7", "bin/sbt", "sbt runner version: 1.10.7", ["/opt/ociforge/toolchains/sbt/1.10.7/bin"])
    ])
    func installsRunsAndSetsPATH(tool: ToolKind, version: String, exe: String, output: String, path: [String])
        async throws
    {
        let i = mirror.installer()
        let s = try await i.install(
            try await i.channels.release(tool, version: version, platform: .linuxAMD64), into: mirror.stagingPath())
        #expect(s.prefix == "/opt/ociforge/toolchains/\(tool.rawValue)/\(version)")
        #expect(runOutput(s.stagingDirectory + s.prefix + "/" + exe, []) == output)
        #expect(s.environment.pathEntries == path && s.environment.variables.isEmpty)
        #expect(s.pin.artifacts.map(\.digest.hex) == [Hex.sha256(mirror.archives[tool]!)])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.stagingDirectory) == ["opt"])
        // Installed again from the pin: no index, from the cache.
        mirror.server.resetCounts()
        let again = try await i.install(s.pin, into: mirror.stagingPath())
        #expect(!again.archives[0].downloaded && mirror.server.count(mirror.archivePath[tool]!) == 0)
    }

    /// The checksum file (gleam `.sha256`, dart `.sha256sum`, sbt `.tgz.sha256`) names another digest.
    @Test(arguments: [
        (ToolKind.gleam, "1.11.1", "/gleam-dl/v1.11.1/gleam-v1.11.1-x86_64-unknown-linux-musl.tar.gz.sha256"),
        (
            .dart, "3.5.4",
            "/dart/dart-archive/channels/stable/release/3.5.4/sdk/dartsdk-linux-x64-release.zip.sha256sum"
        ),
        (.sbt, "1.10.7", "/sbt-dl/v1.10.7/sbt-1.10.7.tgz.sha256")
    ])
    func checksumMismatchIsRefusedAndNothingCached(tool: ToolKind, version: String, sumPath: String) async throws {
        let name = String(sumPath.split(separator: "/").last!.split(separator: ".sha256")[0])
        mirror.server.put(sumPath, "\(String(repeating: "0", count: 64))  \(name)\n")
        let i = mirror.installer()
        let staging = mirror.stagingPath()
        let r = try await i.channels.release(tool, version: version, platform: .linuxAMD64)
        let e = await #expect(throws: ToolchainError.self) { _ = try await i.install(r, into: staging) }
        #expect(e?.code == .checksumMismatch && e?.url == mirror.base + mirror.archivePath[tool]!)
        #expect(e?.description.contains(tool.downloadEndpoint.environmentVariable) == true)
        #expect(mirror.cachedBlobs().isEmpty && !FileManager.default.fileExists(atPath: staging))
    }

    @Test func mirrorKeysAndGitHubAssetsRebased() {
        var s = ChannelSettings()
        let gh =
            "https://github.com/gleam-lang/gleam/releases/download/v1.11.1/gleam-v1.11.1-x86_64-unknown-linux-musl.tar.gz"
        #expect(s.rebase(gh, .gleam) == gh, "no mirror: used as published")
        s[.gleam] = URL(string: "http://m.test/gleam")!
        s[.sbt] = URL(string: "http://m.test/sbt")!
        #expect(
            s.rebase(gh, .gleam)
                == "http://m.test/gleam/releases/download/v1.11.1/gleam-v1.11.1-x86_64-unknown-linux-musl.tar.gz")
        #expect(
            s.rebase("https://github.com/sbt/sbt/releases/download/v1.10.7/sbt-1.10.7.tgz", .sbt)
                == "http://m.test/sbt/releases/download/v1.10.7/sbt-1.10.7.tgz")
        let other = "https://github.com/sbt/sbt-native-packager/releases/download/v1/x.tgz"
        #expect(s.rebase(other, .sbt) == other)
        #expect(ChannelEndpoint.dart.environmentVariable == "OCIFORGE_TOOLCHAINS_DART_URL")
        #expect(ToolKind.gleam.endpoints == [.gleam] && ToolKind.dart.downloadEndpoint == .dart)
        #expect(
            DartChannel.indexURL(s, pageToken: "a/b=")
                == "https://storage.googleapis.com/storage/v1/b/dart-archive/o?prefix=channels/stable/release/"
                + "&delimiter=/&pageToken=a%2Fb%3D")
    }

    func pinned(_ fixture: String) async throws -> ResolvedPlan {
        let planned = try Planner.plan(appDirectory: Self.fixtures + "/\(fixture)/app", options: PlanOptions()).plan
        var options = ToolchainOptions(mirrors: mirror.settingsTable)
        options.stateDirectory = mirror.state
        return try await ToolchainResolution.pin(planned, options: options, stateDirectory: mirror.state)
    }

    @Test func plansResolveGleamWithDebianErlangDartAndSbt() async throws {
        let gleam = try await pinned("gleam-toml")
        let g = try #require(gleam.toolchains.first { $0.name == "gleam" })
        #expect(g.source == .upstream && g.upstream?.pin?.version == "1.11.1")  // gleam.toml ">= 1.4.0"; rc skipped
        #expect(gleam.toolchains.first { $0.name == "erlang" }?.source == .debian)
        let dart = try await pinned("dart-pubspec")
        #expect(dart.toolchains.first { $0.name == "dart" }?.upstream?.pin?.version == "3.5.4")
        let sbt = try await pinned("scala-sbt")
        let s = try #require(sbt.toolchains.first { $0.name == "sbt" }?.upstream?.pin)
        #expect(s.url == "\(mirror.base)/sbt-dl/v1.10.7/sbt-1.10.7.tgz")
        #expect(s.digest == "sha256:" + Hex.sha256(mirror.archives[.sbt]!))
    }
}

extension ChannelMirror {
    /// Every endpoint's base as `--toolchain-mirror key=URL` gives it.
    var settingsTable: [String: String] {
        Dictionary(uniqueKeysWithValues: ChannelEndpoint.allCases.map { ($0.rawValue, "\(base)/\($0.rawValue)") })
    }
}
