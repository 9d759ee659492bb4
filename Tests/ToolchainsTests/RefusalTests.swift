import Foundation
import OCIWriter
import Testing

@testable import Toolchains

/// Bad downloads and hostile archives are refused with a clear error, and nothing is cached or staged.
@Suite("Toolchain refusals") struct RefusalTests {
    let mirror: ChannelMirror
    init() throws { mirror = try ChannelMirror() }

    /// Replaces the Go 1.23.4 archive and its index entry (sha256 of `bytes` unless given, published size).
    func setGo(_ bytes: [UInt8], sha256: String? = nil, size: Int? = nil) {
        mirror.server.put(mirror.archivePath[.go]!, bytes)
        mirror.server.put(
            "/go/?mode=json&include=all",
            """
            [{"version":"go1.23.4","stable":true,"files":[{"filename":"go1.23.4.linux-amd64.tar.gz","os":"linux","arch":"amd64","version":"go1.23.4","sha256":"\(sha256 ?? Hex.sha256(bytes))","size":\(size ?? bytes.count),"kind":"archive"}]}]
            """)
    }

    /// Installs `tool`@`version` expecting a refusal; checks nothing was cached or staged.
    func refused(_ tool: ToolKind, _ version: String, installer: ToolchainInstaller? = nil) async throws
        -> ToolchainError?
    {
        let i = installer ?? mirror.installer()
        let staging = mirror.stagingPath()
        let r = try await i.channels.release(tool, version: version, platform: .linuxAMD64)
        let e = await #expect(throws: ToolchainError.self) { _ = try await i.install(r, into: staging) }
        #expect(mirror.cachedBlobs().isEmpty, "nothing may be cached")
        #expect(!FileManager.default.fileExists(atPath: staging), "nothing may be staged")
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: mirror.state + "/toolchains/tmp")) ?? []
        #expect(tmp.isEmpty, "no temporary file may be left")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: mirror.builder.dir).filter {
            $0.contains("ociforge-staging")
        }
        #expect(leftovers.isEmpty)
        return e
    }

    @Test func wrongChecksum() async throws {
        mirror.server.put(
            "/node/v24.1.0/SHASUMS256.txt", "\(String(repeating: "0", count: 64))  node-v24.1.0-linux-x64.tar.xz\n")
        let e = try await refused(.node, "24.1.0")
        #expect(e?.code == .checksumMismatch)
        #expect(e?.url == "\(mirror.base)/node/v24.1.0/node-v24.1.0-linux-x64.tar.xz")
        #expect(e?.description.contains("OCIFORGE_TOOLCHAINS_NODE_URL") == true)
        #expect(e?.description.contains("expected sha256:0000") == true)
    }

    @Test func wrongSHA512() async throws {
        let path = "/dotnet/dotnet/release-metadata/8.0/releases.json"
        let good = try Hex.sha512(mirror.archives[.dotnet]!)
        let text = String(decoding: try #require(mirror.server.body(path)), as: UTF8.self)
        mirror.server.put(path, text.replacingOccurrences(of: good, with: String(repeating: "e", count: 128)))
        #expect(try await refused(.dotnet, "8.0.404")?.code == .checksumMismatch)
    }

    @Test func missingChecksumLine() async throws {
        mirror.server.put(
            "/node/v24.1.0/SHASUMS256.txt",
            "\(String(repeating: "0", count: 64))  other.tar.xz\n\(String(repeating: "1", count: 64))  x\n")
        let e = try await refused(.node, "24.1.0")
        #expect(e?.code == .checksumMissing && e?.url == "\(mirror.base)/node/v24.1.0/SHASUMS256.txt")
    }

    @Test func truncatedAgainstThePublishedSize() async throws {
        let bytes = mirror.archives[.go]!
        setGo(bytes, size: bytes.count + 100)
        let e = try await refused(.go, "1.23.4")
        #expect(e?.code == .truncated && e?.description.contains("\(bytes.count) bytes") == true)
    }

    @Test func connectionDroppedMidDownload() async throws {
        mirror.server.truncate(mirror.archivePath[.deno]!)
        let e = try await refused(.deno, "2.1.4")
        #expect(e?.code == .unreachable && e?.url == "\(mirror.base)\(mirror.archivePath[.deno]!)" && e?.cause != nil)
    }

    @Test func oversized() async throws {
        let bytes = mirror.archives[.go]!
        setGo(bytes, size: bytes.count - 100)
        #expect(try await refused(.go, "1.23.4")?.code == .tooLarge)
        // No published size: the installer's bound applies.
        let small = mirror.installer(maxDownloadBytes: 64)
        let e = try await refused(.node, "24.1.0", installer: small)
        #expect(e?.code == .tooLarge)
        // Cut off by the transport while streaming (HTTPRequest.maxDownloadBytes), not after the whole body arrived.
        #expect((e?.cause as? OCIWriterError)?.code == .limitExceeded)
    }

    func hostileGo(_ extra: [String], links: [String: String] = [:]) async throws -> ToolchainError? {
        let root = try mirror.builder.tree(
            "hostile-\(UUID().uuidString)",
            files: [
                "go/bin/go": ChannelMirror.script("go"), "go/VERSION": "go1.23.4\n"
            ], links: links)
        setGo(try mirror.builder.tar(root, compression: "z", extra: extra))
        return try await refused(.go, "1.23.4")
    }

    @Test func dotDotEntry() async throws {
        let e = try await hostileGo(["-P", "--transform", "s,^go/VERSION,go/../../escape,"])
        #expect(e?.code == .hostileArchive && e?.description.contains("go/../../escape") == true)
        #expect(!FileManager.default.fileExists(atPath: mirror.builder.dir + "/escape"))
    }

    @Test func absoluteEntry() async throws {
        let target = mirror.builder.dir + "/abs-escape"
        let e = try await hostileGo(["-P", "--transform", "s,^go/VERSION,\(target),"])
        #expect(e?.code == .hostileArchive)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func symlinkLeavingTheTree() async throws {
        let e = try await hostileGo([], links: ["go/bin/evil": "../../../../etc/passwd"])
        #expect(e?.code == .hostileArchive && e?.description.contains("go/bin/evil") == true)
        // Inside the archive root but outside the stripped top-level directory.
        #expect(try await hostileGo([], links: ["go/up": "../neighbour"])?.code == .hostileArchive)
        #expect(try await hostileGo([], links: ["go/abs": "/usr/bin/env"])?.code == .hostileArchive)
    }

    /// Replaces the Deno 2.1.4 zip and its `.sha256sum`.
    func setDeno(_ bytes: [UInt8]) {
        let path = mirror.archivePath[.deno]!
        mirror.server.put(path, bytes)
        mirror.server.put(path + ".sha256sum", "\(Hex.sha256(bytes))  deno-x86_64-unknown-linux-gnu.zip\n")
    }

    @Test func hostileZip() async throws {
        let root = try mirror.builder.tree(
            "zip-link", files: ["deno": ChannelMirror.script("deno")],
            links: ["evil": "../../../../etc/passwd"])
        setDeno(try mirror.builder.zip(root))
        let e = try await refused(.deno, "2.1.4")
        #expect(e?.code == .hostileArchive && e?.description.contains("evil") == true)

        let inner = try mirror.builder.tree("zip-dotdot", files: ["a/deno": ChannelMirror.script("deno"), "x": "x\n"])
        setDeno(try mirror.builder.zip(inner + "/a", names: ["deno", "../x"]))
        let d = try await refused(.deno, "2.1.4")
        #expect(d?.code == .hostileArchive && d?.description.contains("'../x'") == true)
    }

    @Test func entryWrittenThroughASymlink() async throws {
        // go/lib -> bin (allowed), then an entry go/lib/x that would be written through it.
        let root = try mirror.builder.tree(
            "through", files: ["go/bin/go": ChannelMirror.script("go"), "x": "x\n"],
            links: ["go/lib": "bin"])
        let bytes = try mirror.builder.tar(
            root, compression: "z", extra: ["--transform", "s,^x$,go/lib/x,"],
            entries: ["go", "x"])
        setGo(bytes)
        let e = try await refused(.go, "1.23.4")
        #expect(e?.code == .hostileArchive && e?.description.contains("go/lib/x") == true)
    }

    @Test func unreachableArchiveHost() async throws {
        var s = mirror.settings
        s[.deno] = URL(string: "http://127.0.0.1:1/deno")!
        let i = ToolchainInstaller(channels: ToolchainChannels(settings: s), stateDirectory: mirror.state)
        let e = try await refused(.deno, "2.1.4", installer: i)
        #expect(
            e?.code == .unreachable
                && e?.url == "http://127.0.0.1:1/deno/release/v2.1.4/deno-x86_64-unknown-linux-gnu.zip.sha256sum")
        #expect(e?.description.contains("OCIFORGE_TOOLCHAINS_DENO_URL") == true)
    }
}
