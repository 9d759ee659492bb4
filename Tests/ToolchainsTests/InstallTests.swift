import Foundation
import OCIWriter
import Testing

@testable import Toolchains

/// Fetch, verify, cache and stage each tool from the loopback mirror, then run its executable from the tree.
@Suite("Toolchain install") struct InstallTests {
    let mirror: ChannelMirror
    init() throws { mirror = try ChannelMirror() }

    func install(_ tool: ToolKind, _ version: String, installer: ToolchainInstaller? = nil) async throws
        -> StagedToolchain
    {
        let i = installer ?? mirror.installer()
        let r = try await i.channels.release(tool, version: version, platform: .linuxAMD64)
        return try await i.install(r, into: mirror.stagingPath())
    }

    /// The tool's executable in the staged tree.
    func exe(_ s: StagedToolchain, _ rel: String) -> String { s.stagingDirectory + s.prefix + "/" + rel }

    @Test(arguments: [
        (ToolKind.node, "24.1.0", "bin/node", "v24.1.0"),
        (.go, "1.23.4", "bin/go", "go version go1.23.4 linux/amd64"),
        (.zig, "0.14.1", "zig", "0.14.1"),
        (.rust, "1.78.0", "bin/rustc", "rustc 1.78.0 (9b00956e5 2024-04-29)"),
        (.java, "21.0.5+11", "bin/java", "openjdk version \"21.0.5\" 2024-10-15 LTS"),
        (.dotnet, "8.0.404", "dotnet", "8.0.404"),
        (.deno, "2.1.4", "deno", "deno 2.1.4 (stable, release, x86_64-unknown-linux-gnu)"),
        (.bun, "1.1.38", "bun", "1.1.38"),
        (.python, "3.13.0", "bin/python3", "Python 3.13.0"),
        (.ruby, "3.3.6", "bin/ruby", "ruby 3.3.6 (2024-11-05 revision 75015d4c1f) [x86_64-linux]")
    ])
    func installsAndRuns(tool: ToolKind, version: String, executable: String, output: String) async throws {
        let s = try await install(tool, version)
        #expect(s.prefix == "/opt/ociforge/toolchains/\(tool.rawValue)/\(version)")
        #expect(runOutput(exe(s, executable), []) == output)
        #expect(s.archives.allSatisfy { $0.downloaded })
        // The staging tree holds only the prefix.
        let top = try FileManager.default.contentsOfDirectory(atPath: s.stagingDirectory)
        #expect(top == ["opt"])
        var st = stat()
        #expect(lstat(exe(s, executable), &st) == 0)
        #expect(stat(exe(s, executable), &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(stat(s.stagingDirectory + s.prefix, &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(s.pin.tool == tool && s.pin.version == version && s.pin.artifacts.count == s.archives.count)
        #expect(s.environment.pathEntries.first?.hasPrefix(s.prefix) == true)
    }

    @Test func layoutsAndEnvironment() async throws {
        let rust = try await install(.rust, "1.78.0")
        let t = "x86_64-unknown-linux-gnu"
        #expect(runOutput(exe(rust, "bin/cargo"), []) == "cargo 1.78.0 (54d8815d0 2024-03-26)")
        #expect(FileManager.default.fileExists(atPath: exe(rust, "lib/rustlib/\(t)/lib/libstd.rlib")))
        #expect(!FileManager.default.fileExists(atPath: exe(rust, "manifest.in")))
        #expect(rust.archives.map(\.component) == ["rustc", "cargo", "rust-std"])
        #expect(rust.environment.variables == [EnvironmentVariable("CARGO_HOME", "/opt/ociforge/cargo")])

        let node = try await install(.node, "24.1.0")
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: exe(node, "bin/npm"))
                == "../lib/node_modules/npm/bin/npm-cli.js")
        #expect(runOutput(exe(node, "bin/npm"), []) == "10.9.2")
        #expect(
            node.environment.path(prependingTo: "/usr/bin:/opt/ociforge/toolchains/node/24.1.0/bin")
                == "/opt/ociforge/toolchains/node/24.1.0/bin:/usr/bin")

        let go = try await install(.go, "go1.23.4")
        #expect(
            go.environment.variables == [
                EnvironmentVariable("GOROOT", go.prefix), EnvironmentVariable("GOTOOLCHAIN", "local")
            ])
        let dotnet = try await install(.dotnet, "8.0.404")
        // no top-level dir stripped
        #expect(FileManager.default.fileExists(atPath: exe(dotnet, "sdk/8.0.404/dotnet.dll")))
        #expect(
            dotnet.environment.variables.map(\.name) == ["DOTNET_CLI_TELEMETRY_OPTOUT", "DOTNET_NOLOGO", "DOTNET_ROOT"])
        let java = try await install(.java, "jdk-21.0.5+11")
        #expect(java.environment.variables == [EnvironmentVariable("JAVA_HOME", java.prefix)])
        // The .NET archive is cached under its sha256 although the channel publishes SHA-512.
        #expect(mirror.cachedBlobs().contains(Hex.sha256(mirror.archives[.dotnet]!)))
    }

    @Test func runtimeFlavorsInstallUnderTheirOwnPrefix() async throws {
        let i = mirror.installer()
        let jre = try await i.install(
            try await i.channels.release(
                .java, version: "21.0.5+11", platform: .linuxAMD64,
                flavor: .runtime), into: mirror.stagingPath())
        #expect(jre.prefix == "/opt/ociforge/toolchains/java-runtime/21.0.5+11" && jre.pin.flavor == .runtime)
        #expect(runOutput(exe(jre, "bin/java"), []) == "openjdk version \"21.0.5\" JRE")
        #expect(jre.environment.variables == [EnvironmentVariable("JAVA_HOME", jre.prefix)])
        let net = try await i.install(
            try await i.channels.release(
                .dotnet, version: "8.0.11", platform: .linuxAMD64,
                flavor: .runtime), into: mirror.stagingPath())
        #expect(net.prefix == "/opt/ociforge/toolchains/dotnet-runtime/8.0.11")
        #expect(runOutput(exe(net, "dotnet"), []) == "Microsoft.AspNetCore.App 8.0.11")
        // The pin keeps the flavor: installing it again lands under the same prefix, from the cache.
        let again = try await i.install(net.pin, into: mirror.stagingPath())
        #expect(again.prefix == net.prefix && !again.archives[0].downloaded)
        #expect(
            net.pin.layerKey
                != ToolchainPin(tool: .dotnet, version: "8.0.11", platform: .linuxAMD64, artifacts: net.pin.artifacts)
                .layerKey)
    }

    @Test func secondInstallUsesTheCacheWithoutDownloading() async throws {
        for tool in [ToolKind.node, .dotnet] {
            let version = tool == .node ? "24.1.0" : "8.0.404"
            let first = try await install(tool, version)
            let second = try await install(tool, version)
            #expect(mirror.server.count(mirror.archivePath[tool]!) == 1)
            #expect(first.archives[0].downloaded && !second.archives[0].downloaded)
            #expect(first.pin == second.pin)
            #expect(try treeListing(first.stagingDirectory) == treeListing(second.stagingDirectory))
        }
        var st = stat()
        let blob = mirror.state + "/toolchains/blobs/sha256/" + Hex.sha256(mirror.archives[.node]!)
        #expect(stat(blob, &st) == 0 && st.st_mode & 0o777 == 0o644)
        #expect(stat(mirror.state + "/toolchains/blobs/sha256", &st) == 0 && st.st_mode & 0o777 == 0o755)
    }

    @Test func pinInstallsWithoutAnyIndex() async throws {
        let staged = try await install(.zig, "0.14.1")
        let json = try JSONEncoder().encode(staged.pin)
        let pin = try JSONDecoder().decode(ToolchainPin.self, from: json)
        #expect(
            pin.digest?.hex == Hex.sha256(mirror.archives[.zig]!) && pin.url.hasSuffix("zig-x86_64-linux-0.14.1.tar.xz")
        )

        // A fresh host (empty cache), the index gone: only the archive is requested.
        mirror.server.remove("/zig/index.json")
        mirror.server.resetCounts()
        let fresh = ToolchainInstaller(
            channels: ToolchainChannels(settings: mirror.settings),
            stateDirectory: mirror.builder.dir + "/state2")
        let a = try await fresh.install(pin, into: mirror.stagingPath())
        #expect(mirror.server.totalRequests == 1 && mirror.server.count(mirror.archivePath[.zig]!) == 1)
        #expect(runOutput(exe(a, "zig"), []) == "0.14.1")
        // Cached: no request at all.
        let b = try await fresh.install(pin, into: mirror.stagingPath())
        #expect(mirror.server.totalRequests == 1 && !b.archives[0].downloaded)
        #expect(try treeListing(a.stagingDirectory) == treeListing(staged.stagingDirectory))
    }

    @Test func pinWithAnotherDigestIsRefused() async throws {
        let staged = try await install(.go, "1.23.4")
        var pin = staged.pin
        pin.artifacts[0].digest = try Digest("sha256:" + String(repeating: "0", count: 64))
        let fresh = ToolchainInstaller(
            channels: ToolchainChannels(settings: mirror.settings),
            stateDirectory: mirror.builder.dir + "/state3")
        let staging = mirror.stagingPath()
        let e = await #expect(throws: ToolchainError.self) { _ = try await fresh.install(pin, into: staging) }
        #expect(e?.code == .checksumMismatch && e?.url == "\(mirror.base)/go/go1.23.4.linux-amd64.tar.gz")
        #expect(!FileManager.default.fileExists(atPath: staging))
        #expect(
            ((try? FileManager.default.contentsOfDirectory(
                atPath: mirror.builder.dir + "/state3/toolchains/blobs/sha256")) ?? []).isEmpty)
        pin.version = "../x"
        let v = await #expect(throws: ToolchainError.self) { _ = try await fresh.install(pin, into: staging) }
        #expect(v?.code == .invalidPin)
    }
}

/// Every path below `root` with its type, mode and content digest, sorted.
func treeListing(_ root: String) throws -> [String] {
    let fm = FileManager.default
    var out: [String] = []
    for p in try fm.subpathsOfDirectory(atPath: root).sorted() {
        let full = root + "/" + p
        var st = stat()
        lstat(full, &st)
        let kind = st.st_mode & S_IFMT
        var line = "\(p) \(String(st.st_mode & 0o7777, radix: 8))"
        if kind == S_IFLNK { line += " -> " + (try fm.destinationOfSymbolicLink(atPath: full)) }
        if kind == S_IFREG { line += " " + Digest.of([UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))).hex }
        out.append(line)
    }
    return out
}
