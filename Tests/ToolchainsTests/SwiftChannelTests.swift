import Foundation
import OCIWriter
import Planner
import Testing

@testable import BuildEngine
@testable import Toolchains

/// The swift.org channel: the install API's releases.json, the debian12 tarball and its detached OpenPGP signature,
/// verified with gpgv against the keyring the user configures before anything is unpacked or cached. Served by
/// `FixtureChannels` on loopback, signed by a key the test generates with gpg (the tarballs are stand-ins).
@Suite("swift.org channel") struct SwiftChannelTests {
    let channels: FixtureChannels
    let state: String

    init() throws {
        channels = try FixtureChannels()
        state = channels.builder.dir + "/state-\(UUID().uuidString)"
    }

    static let tarball =
        "/swift/download/swift-6.2.1-release/debian12/swift-6.2.1-RELEASE/swift-6.2.1-RELEASE-debian12.tar.gz"

    func installer(keyring: String?) throws -> ToolchainInstaller {
        let settings = try ChannelSettings(mirrors: channels.mirrors, environment: [:])
        return ToolchainInstaller(
            channels: ToolchainChannels(settings: settings), stateDirectory: state,
            keyrings: keyring.map { [.swift: $0] } ?? [:])
    }

    var cachedBlobs: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: state + "/toolchains/blobs/sha256")) ?? []
    }

    @Test func listsDebian12BuildsWithTheirSignatures() async throws {
        let i = try installer(keyring: nil)
        let amd = try await i.channels.listReleases(.swift, platform: .linuxAMD64)
        #expect(amd.map(\.versionNumber) == ["6.1.2", "6.2.1"], "5.9.2 has no debian12 build")
        let r = try #require(amd.last)
        #expect(r.version == "swift-6.2.1-RELEASE" && r.date == "2025-06-05")
        #expect(r.artifacts.map(\.url) == [channels.base + Self.tarball])
        #expect(r.artifacts.first?.checksum == .openPGPSignature(url: channels.base + Self.tarball + ".sig"))
        let arm = try await i.channels.listReleases(.swift, platform: .linuxARM64)
        #expect(
            arm.last?.artifacts.first?.url
                == channels.base
                + "/swift/download/swift-6.2.1-release/debian12-aarch64/swift-6.2.1-RELEASE/swift-6.2.1-RELEASE-debian12-aarch64.tar.gz"
        )
        // Upstream layout without a mirror.
        #expect(
            SwiftChannel.tarballURL(tag: "swift-6.2.1-RELEASE", platform: .linuxAMD64)
                == "https://download.swift.org/swift-6.2.1-release/debian12/swift-6.2.1-RELEASE/swift-6.2.1-RELEASE-debian12.tar.gz"
        )
        #expect(SwiftChannel.indexURL(ChannelSettings()) == "https://www.swift.org/api/v1/install/releases.json")
    }

    @Test func installsAfterAGoodSignatureAndReusesTheVerifiedArchive() async throws {
        let i = try installer(keyring: channels.keyring)
        let r = try await i.channels.release(.swift, version: "6.2.1", platform: .linuxAMD64)
        let staging = channels.builder.dir + "/staging-\(UUID().uuidString)"
        let s = try await i.install(r, into: staging)
        #expect(s.prefix == "/opt/ociforge/toolchains/swift/6.2.1")
        #expect(s.environment.pathEntries == ["/opt/ociforge/toolchains/swift/6.2.1/usr/bin"])
        let exe = staging + s.prefix + "/usr/bin/swift"
        #expect(FileManager.default.isExecutableFile(atPath: exe))
        #expect(s.archives.first?.downloaded == true && cachedBlobs.count == 1)
        #expect(channels.server.count(Self.tarball) == 1)
        // A second resolution: the signature is fetched again, the archive it verified comes from the cache.
        let again = try await i.pin(r)
        #expect(again.artifacts.first?.digest == s.archives.first?.digest)
        #expect(channels.server.count(Self.tarball) == 1, "not downloaded twice")
    }

    @Test func withoutAKeyringNothingIsDownloaded() async throws {
        let i = try installer(keyring: nil)
        let r = try await i.channels.release(.swift, version: "6.2.1", platform: .linuxAMD64)
        let e = await #expect(throws: ToolchainError.self) { _ = try await i.pin(r) }
        #expect(e?.code == .keyringMissing)
        let text = e.map { "\($0)" } ?? ""
        #expect(text.contains("[toolchains.swift] keyring") && text.contains("--toolchain-keyring swift="))
        #expect(text.contains("OCIFORGE_TOOLCHAINS_SWIFT_KEYRING") && text.contains("swift.org/keys/all-keys.asc"))
        #expect(channels.server.count(Self.tarball) == 0 && cachedBlobs.isEmpty)
        let missing = try installer(keyring: channels.builder.dir + "/no-such-keyring.gpg")
        let m = await #expect(throws: ToolchainError.self) { _ = try await missing.pin(r) }
        #expect(m?.code == .keyringMissing && m?.path == channels.builder.dir + "/no-such-keyring.gpg")
        #expect(channels.server.count(Self.tarball) == 0 && cachedBlobs.isEmpty)
    }

    @Test func aSignatureByAnotherKeyIsRefusedAndNothingCached() async throws {
        let other = try OpenPGPSigner(channels.builder.dir + "/other-gnupg", name: "someone else <x@ociforge.invalid>")
        let i = try installer(keyring: other.keyring)
        let r = try await i.channels.release(.swift, version: "6.2.1", platform: .linuxAMD64)
        let e = await #expect(throws: ToolchainError.self) { _ = try await i.pin(r) }
        #expect(e?.code == .signatureInvalid, "\(String(describing: e))")
        #expect(cachedBlobs.isEmpty)
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: state + "/toolchains/tmp")) ?? []).isEmpty,
            "no download left behind")
    }

    @Test func aTamperedOrTruncatedDownloadIsRefusedAndNothingCached() async throws {
        let i = try installer(keyring: channels.keyring)
        let r = try await i.channels.release(.swift, version: "6.2.1", platform: .linuxAMD64)
        let good = try #require(channels.server.body(Self.tarball))
        channels.server.put(Self.tarball, Array(good.prefix(good.count / 2)))
        let truncated = await #expect(throws: ToolchainError.self) { _ = try await i.pin(r) }
        #expect(truncated?.code == .signatureInvalid && cachedBlobs.isEmpty)
        var flipped = good
        flipped[flipped.count - 9] ^= 0xff
        channels.server.put(Self.tarball, flipped)
        let tampered = await #expect(throws: ToolchainError.self) { _ = try await i.pin(r) }
        #expect(tampered?.code == .signatureInvalid && cachedBlobs.isEmpty)
        // The genuine bytes still install afterwards (nothing bad was recorded).
        channels.server.put(Self.tarball, good)
        let pin = try await i.pin(r)
        #expect(pin.artifacts.first?.digest == Digest.of(good))
    }

    func pinned(_ fixture: String, keyring: String?) async throws -> ResolvedPlan {
        let planned = try Planner.plan(
            appDirectory: ResolvedToolchainSnapshotTests.root + "/\(fixture)/app", options: PlanOptions()
        ).plan
        var options = ToolchainOptions(mirrors: channels.mirrors)
        options.stateDirectory = state
        if let keyring { options.keyrings = ["swift": keyring] }
        return try await ToolchainResolution.pin(planned, options: options, stateDirectory: state)
    }

    /// swift-tools-version 5.9 takes trixie's swiftlang; 6.2 (above Debian's 6.0.3) plans the swift.org channel,
    /// which without a keyring is refused before any download, naming the channel, the setting and Debian's swift.
    @Test func toolsVersionAboveDebianNeedsTheKeyring() async throws {
        let debian = try await pinned("swift-package", keyring: nil)
        let d = try #require(debian.toolchains.first { $0.name == "swift" })
        #expect(d.source == .debian && d.version == "6.0.3" && d.packages.contains("swiftlang"))
        let e = await #expect(throws: BuildEngineError.self) { _ = try await pinned("swift-upstream", keyring: nil) }
        let text = e.map { "\($0.message): \($0.cause.map { "\($0)" } ?? "")" } ?? ""
        #expect(text.contains("cannot resolve swift >=6.2") && text.contains("upstream release channel"), "\(text)")
        #expect(text.contains("[toolchains.swift] keyring") && text.contains("Debian trixie ships swift 6.0.3"))
        #expect(channels.server.count(Self.tarball) == 0 && cachedBlobs.isEmpty)
        let up = try await pinned("swift-upstream", keyring: channels.keyring)
        let pin = try #require(up.toolchains.first { $0.name == "swift" }?.upstream?.pin)
        #expect(pin.version == "6.2.1" && pin.url == channels.base + Self.tarball)
        #expect(cachedBlobs.count == 1)
    }

    /// The keyring's settings: `--toolchain-keyring` over `OCIFORGE_TOOLCHAINS_SWIFT_KEYRING` over the plan's
    /// `[toolchains.swift] keyring`; relative paths and unknown tools are refused naming the setting.
    @Test func keyringPrecedence() throws {
        var plan = try Planner.plan(
            appDirectory: ResolvedToolchainSnapshotTests.root + "/swift-upstream/app", options: PlanOptions()
        ).plan
        let i = try #require(plan.toolchains.firstIndex { $0.name == "swift" })
        plan.toolchains[i].upstream?.keyring = "/etc/plan.gpg"
        var options = ToolchainOptions()
        #expect(try options.keyrings(for: plan) == [.swift: "/etc/plan.gpg"])
        options.environment["OCIFORGE_TOOLCHAINS_SWIFT_KEYRING"] = "/etc/env.gpg"
        #expect(try options.keyrings(for: plan) == [.swift: "/etc/env.gpg"])
        options.keyrings["swift"] = "/etc/flag.gpg"
        #expect(try options.keyrings(for: plan) == [.swift: "/etc/flag.gpg"])
        options.keyrings["swift"] = "flag.gpg"
        let relative = #expect(throws: BuildEngineError.self) { _ = try options.keyrings(for: plan) }
        #expect(relative?.message.contains("--toolchain-keyring swift") == true)
        options.keyrings = ["swiftt": "/etc/flag.gpg"]
        let unknown = #expect(throws: BuildEngineError.self) { _ = try options.keyrings(for: plan) }
        #expect(unknown?.message.contains("unknown tool") == true)
    }
}
