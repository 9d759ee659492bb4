import Foundation
import Testing

@testable import Toolchains

/// Each channel's index format, served on loopback, parsed into releases for linux/amd64.
@Suite("Toolchain channel listing") struct ChannelListingTests {
    let mirror: ChannelMirror
    init() throws { mirror = try ChannelMirror() }

    func list(_ tool: ToolKind) async throws -> [ChannelRelease] {
        try await ToolchainChannels(settings: mirror.settings).listReleases(tool, platform: .linuxAMD64)
    }

    @Test func node() async throws {
        let r = try await list(.node)
        #expect(r.map(\.version) == ["v24.1.0", "v23.11.0", "v22.12.0"])  // v20.18.1 has no linux-x64 build
        #expect(r[0].versionNumber == "24.1.0" && r[0].isLTS && r[0].ltsCodename == "Krypton")
        #expect(!r[1].isLTS && r[1].ltsCodename == nil)
        #expect(r[2].ltsCodename == "Jod" && r[2].date == "2024-12-03")
        #expect(r[0].artifacts.first?.url == "\(mirror.base)/node/v24.1.0/node-v24.1.0-linux-x64.tar.xz")
        #expect(
            r[0].artifacts.first?.checksum
                == .file(
                    url: "\(mirror.base)/node/v24.1.0/SHASUMS256.txt",
                    fileName: "node-v24.1.0-linux-x64.tar.xz", algorithm: .sha256))
    }

    @Test func arm64Naming() async throws {
        let c = ToolchainChannels(settings: mirror.settings)
        let node = try await c.listReleases(.node, platform: .linuxARM64)
        #expect(node.map(\.version) == ["v24.1.0", "v20.18.1"])
        #expect(node[0].artifacts[0].url.hasSuffix("/v24.1.0/node-v24.1.0-linux-arm64.tar.xz"))
        #expect(try await c.listReleases(.zig, platform: .linuxARM64).map(\.version) == ["0.13.0"])
        #expect(try await c.listReleases(.python, platform: .linuxARM64).map(\.versionNumber) == ["3.12.7"])
        #expect(try await c.listReleases(.ruby, platform: .linuxARM64).map(\.versionNumber) == ["3.3.6"])
        let dotnet = try await c.listReleases(.dotnet, platform: .linuxARM64)
        #expect(dotnet.map(\.version) == ["8.0.404"] && dotnet[0].artifacts[0].url.hasSuffix("-linux-arm64.tar.gz"))
        #expect(
            try await c.listReleases(.bun, platform: .linuxARM64).first?.artifacts[0].url.hasSuffix(
                "/bun-linux-aarch64.zip") == true)
        #expect(
            try await c.listReleases(.deno, platform: .linuxARM64).first?.artifacts[0].url.hasSuffix(
                "/deno-aarch64-unknown-linux-gnu.zip") == true)
    }

    @Test func go() async throws {
        let r = try await list(.go)
        #expect(r.map(\.version) == ["go1.24rc1", "go1.23.4"])
        #expect(r[0].isPrerelease && !r[1].isPrerelease && r[1].versionNumber == "1.23.4")
        let a = try #require(r[1].artifacts.first)
        #expect(
            a.url == "\(mirror.base)/go/go1.23.4.linux-amd64.tar.gz" && a.size == Int64(mirror.archives[.go]!.count))
        #expect(a.checksum == .inline(Checksum(.sha256, hex: Hex.sha256(mirror.archives[.go]!))!))
    }

    @Test func zigRebasesUpstreamURLsOntoTheMirror() async throws {
        let r = try await list(.zig)
        #expect(r.map(\.version) == ["0.14.1", "0.15.0-dev.1+abc"])  // 0.13.0 has no x86_64-linux build
        #expect(r[0].artifacts[0].url == "\(mirror.base)/zig/0.14.1/zig-x86_64-linux-0.14.1.tar.xz")
        #expect(r[0].artifacts[0].size == Int64(mirror.archives[.zig]!.count) && r[0].artifacts[0].format == .tarXz)
        // Dev builds live under ziglang.org/builds: a mirror of the zig channel serves them under <mirror>/builds.
        #expect(r[1].isPrerelease && r[1].artifacts[0].url.hasPrefix("\(mirror.base)/zig/builds/"))
    }

    @Test func rustManifestGivesRustcCargoAndStdForTheHostTriple() async throws {
        let channels = ToolchainChannels(settings: mirror.settings)
        let r = try await channels.release(.rust, version: "1.78.0", platform: .linuxAMD64)
        #expect(r.version == "1.78.0" && r.date == "2024-05-02" && !r.isPrerelease)
        #expect(r.artifacts.map(\.component) == ["rustc", "cargo", "rust-std"])
        #expect(
            r.artifacts[0].url == "\(mirror.base)/rust/dist/2024-05-02/rustc-1.78.0-x86_64-unknown-linux-gnu.tar.xz")
        #expect(try await list(.rust).map(\.version) == ["1.78.0"])
        await #expect(throws: ToolchainError.self) {
            _ = try await channels.release(.rust, version: "1.78.0", platform: .linuxARM64)
        }
    }

    @Test func temurin() async throws {
        let r = try await list(.java)
        #expect(r.map(\.version) == ["jdk-21.0.5+11", "jdk-17.0.13+11"])
        #expect(r.map(\.versionNumber) == ["21.0.5+11", "17.0.13+11"] && r.allSatisfy(\.isLTS))
        #expect(
            r[0].artifacts[0].url == "\(mirror.base)/java-binaries/OpenJDK21U-jdk_x64_linux_hotspot_21.0.5_11.tar.gz")
    }

    @Test func runtimeFlavors() async throws {
        let c = ToolchainChannels(settings: mirror.settings)
        let jre = try await c.listReleases(.java, platform: .linuxAMD64, flavor: .runtime)
        #expect(jre.map(\.versionNumber) == ["21.0.5+11"] && jre[0].flavor == .runtime)
        #expect(jre[0].artifacts[0].url.hasSuffix("/OpenJDK21U-jre_x64_linux_hotspot_21.0.5_11.tar.gz"))
        let rt = try await c.listReleases(.dotnet, platform: .linuxAMD64, flavor: .runtime)
        #expect(rt.map(\.version) == ["8.0.11"] && rt[0].artifacts[0].component == "aspnetcore-runtime")
        #expect(
            rt[0].artifacts[0].url
                == "\(mirror.base)/dotnet/dotnet/aspnetcore/Runtime/8.0.11/aspnetcore-runtime-8.0.11-linux-x64.tar.gz")
        let e = await #expect(throws: ToolchainError.self) {
            _ = try await c.listReleases(.node, platform: .linuxAMD64, flavor: .runtime)
        }
        #expect(e?.code == .unsupportedFlavor)
    }

    @Test func dotnetSDKsWithSHA512() async throws {
        let r = try await list(.dotnet)
        #expect(r.map(\.version) == ["9.0.100", "8.0.404", "8.0.307"])
        #expect(!r[0].isLTS && r[1].isLTS)
        let a = r[1].artifacts[0]
        #expect(a.url == "\(mirror.base)/dotnet/dotnet/Sdk/8.0.404/dotnet-sdk-8.0.404-linux-x64.tar.gz")
        guard case .inline(let sum) = a.checksum else {
            Issue.record("expected an inline checksum")
            return
        }
        let expected = try Hex.sha512(mirror.archives[.dotnet]!)
        #expect(sum.algorithm == .sha512 && sum.hex == expected)
    }

    @Test func denoBunPython() async throws {
        #expect(try await list(.deno).map(\.versionNumber) == ["2.1.4", "2.0.0", "1.46.3"])
        let bun = try await list(.bun)
        #expect(
            bun.map(\.version) == ["bun-v1.1.38"] && bun[0].versionNumber == "1.1.38" && bun[0].date == "2024-11-29")
        let py = try await list(.python)
        #expect(py.map(\.version) == ["3.13.0+20241016", "3.12.7+20241016", "3.11.10+20241008"])
        #expect(py.map(\.versionNumber) == ["3.13.0", "3.12.7", "3.11.10"])
    }

    @Test func rubyTakesTheDigestFieldAndTheNewestRebuild() async throws {
        let r = try await list(.ruby)
        // 3.4.1 has no digest (unverifiable): not listed. 3.3.6-1 (a rebuild) wins over 3.3.6.
        #expect(r.map(\.version) == ["3.3.6-1", "3.2.6"] && r.map(\.versionNumber) == ["3.3.6", "3.2.6"])
        #expect(r[0].artifacts[0].checksum == .inline(Checksum(.sha256, hex: Hex.sha256(mirror.archives[.ruby]!))!))
        #expect(r[0].artifacts[0].url == "\(mirror.base)/ruby-dl/3.3.6-1/ruby-3.3.6.x86_64_linux.tar.gz")
    }

    @Test func indexCacheAvoidsRefetching() async throws {
        let fresh = ToolchainChannels(
            settings: mirror.settings, indexCache: IndexCachePolicy(stateDirectory: mirror.state))
        #expect(try await fresh.listReleases(.node, platform: .linuxAMD64).count == 3)
        #expect(try await fresh.listReleases(.node, platform: .linuxAMD64).count == 3)
        #expect(mirror.server.count("/node/index.json") == 1)
        let expired = ToolchainChannels(
            settings: mirror.settings,
            indexCache: IndexCachePolicy(stateDirectory: mirror.state, maxAge: 0))
        _ = try await expired.listReleases(.node, platform: .linuxAMD64)
        #expect(mirror.server.count("/node/index.json") == 2)
    }

    @Test func unknownVersion() async throws {
        let e = await #expect(throws: ToolchainError.self) {
            _ = try await ToolchainChannels(settings: self.mirror.settings).release(
                .node, version: "19.0.0", platform: .linuxAMD64)
        }
        #expect(e?.code == .unknownVersion && e?.endpoint == .node)
        let r = await #expect(throws: ToolchainError.self) {
            _ = try await ToolchainChannels(settings: self.mirror.settings).release(
                .rust, version: "1.2.3", platform: .linuxAMD64)
        }
        #expect(r?.code == .unknownVersion && r?.url?.hasSuffix("/rust/dist/channel-rust-1.2.3.toml") == true)
    }

    @Test func unreachableChannelNamesTheURLAndTheSetting() async throws {
        var s = ChannelSettings()
        s[.go] = URL(string: "http://127.0.0.1:1/go-mirror")!
        let e = await #expect(throws: ToolchainError.self) {
            _ = try await ToolchainChannels(settings: s).listReleases(.go, platform: .linuxAMD64)
        }
        #expect(e?.code == .unreachable && e?.cause != nil)
        let text = e?.description ?? ""
        #expect(text.contains("http://127.0.0.1:1/go-mirror/?mode=json&include=all"))
        #expect(text.contains("OCIFORGE_TOOLCHAINS_GO_URL") && text.contains("[toolchains.mirrors] go"))
    }

    @Test func malformedIndexNamesTheField() async throws {
        mirror.server.put("/node/index.json", #"[{"version":"v1.0.0","files":"linux-x64","lts":false}]"#)
        let e = await #expect(throws: ToolchainError.self) { _ = try await list(.node) }
        #expect(e?.code == .invalidIndex && e?.description.contains("files") == true)
    }
}

@Suite("Toolchain formats") struct ToolchainFormatTests {
    @Test func checksumFileLines() {
        let text = "\(String(repeating: "A", count: 64)) *dir/a.zip\n\(String(repeating: "b", count: 64))  b.zip\n"
        #expect(
            ChecksumFile.lookup(text, fileName: "a.zip", algorithm: .sha256)?.hex == String(repeating: "a", count: 64))
        #expect(
            ChecksumFile.lookup(text, fileName: "b.zip", algorithm: .sha256)?.hex == String(repeating: "b", count: 64))
        #expect(ChecksumFile.lookup(text, fileName: "c.zip", algorithm: .sha256) == nil)
        #expect(ChecksumFile.lookup(String(repeating: "c", count: 64) + "\n", fileName: "x", algorithm: .sha256) != nil)
        #expect(ChecksumFile.lookup("zz  a.zip\n", fileName: "a.zip", algorithm: .sha256) == nil)
    }

    @Test func symlinkContainment() {
        #expect(ArchivePath.symlinkStaysInside(entry: ["bin", "npm"], target: "../lib/npm-cli.js"))
        #expect(!ArchivePath.symlinkStaysInside(entry: ["bin", "npm"], target: "../../etc/passwd"))
        #expect(!ArchivePath.symlinkStaysInside(entry: ["bin", "x"], target: "/etc/passwd"))
        #expect(!ArchivePath.symlinkStaysInside(entry: ["a", "b", "x"], target: "c/../../../y"))
        #expect(ArchivePath.components("./a//b/") == ["a", "b"])
        #expect(ArchivePath.components("a/../b") == nil && ArchivePath.components("/a") == nil)
    }

    @Test func settingsFromEnvironmentAndRebase() throws {
        let s = try ChannelSettings(environment: [
            "OCIFORGE_TOOLCHAINS_ZIG_URL": "http://m.example/zig/",
            "OCIFORGE_TOOLCHAINS_DENO_INDEX_URL": "https://m.example/deno"
        ])
        #expect(s[.zig].absoluteString == "http://m.example/zig" && s[.node] == ChannelEndpoint.node.defaultBase)
        #expect(
            s.rebase("https://ziglang.org/download/0.14.1/z.tar.xz", .zig) == "http://m.example/zig/0.14.1/z.tar.xz")
        #expect(s.rebase("https://elsewhere/z.tar.xz", .zig) == "https://elsewhere/z.tar.xz")
        #expect(s.url(.denoIndex, "versions.json") == "https://m.example/deno/versions.json")
        #expect(throws: ToolchainError.self) {
            try ChannelSettings(environment: ["OCIFORGE_TOOLCHAINS_GO_URL": "ftp://x"])
        }
        let both = try ChannelSettings(
            mirrors: ["go": "http://cfg/go", "zig": "http://cfg/zig"],
            environment: ["OCIFORGE_TOOLCHAINS_GO_URL": "http://env/go"])
        #expect(both[.go].absoluteString == "http://env/go" && both[.zig].absoluteString == "http://cfg/zig")
        let e = #expect(throws: ToolchainError.self) {
            try ChannelSettings(mirrors: ["nodejs": "http://x"], environment: [:])
        }
        #expect(e?.code == .invalidSetting && e?.description.contains("nodejs") == true)
    }

    @Test func pinEncodingIsDeterministic() throws {
        let pin = ToolchainPin(
            tool: .node, version: "24.1.0", platform: .linuxAMD64,
            artifacts: [
                PinnedArtifact(
                    component: "node", url: "https://nodejs.org/dist/v24.1.0/node-v24.1.0-linux-x64.tar.xz",
                    format: .tarXz, digest: try .init("sha256:" + String(repeating: "a", count: 64)), size: 42)
            ])
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let a = try enc.encode(pin), b = try enc.encode(try JSONDecoder().decode(ToolchainPin.self, from: a))
        #expect(a == b && [UInt8](a) != pin.canonicalJSON())  // canonicalJSON does not escape slashes
        #expect(
            pin.canonicalJSON()
                == (try JSONDecoder().decode(ToolchainPin.self, from: Data(pin.canonicalJSON()))).canonicalJSON())
        var mirrored = pin
        mirrored.artifacts[0].url = "http://mirror/node/v24.1.0/node-v24.1.0-linux-x64.tar.xz"
        #expect(mirrored.layerKey == pin.layerKey)
        mirrored.artifacts[0].digest = try .init("sha256:" + String(repeating: "b", count: 64))
        #expect(mirrored.layerKey != pin.layerKey)
        #expect(
            String(decoding: a, as: UTF8.self)
                == #"{"artifacts":[{"component":"node","digest":"sha256:\#(String(repeating: "a", count: 64))","format":"tar.xz","size":42,"url":"https:\/\/nodejs.org\/dist\/v24.1.0\/node-v24.1.0-linux-x64.tar.xz"}],"flavor":"full","platform":"linux\/amd64","tool":"node","version":"24.1.0"}"#
        )
    }
}
