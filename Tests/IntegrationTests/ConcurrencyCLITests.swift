import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 must-show 3: concurrent `ociforge` processes writing one OCI layout, one state directory and one
/// build cache (docs/concurrency.md): every command succeeds, every tag written is present exactly once, and the
/// layout verifies.
@Suite(.timeLimit(.minutes(15)))
struct ConcurrencyCLITests {
    /// Starts `ociforge args` with stdout/stderr to files; returns a closure waiting for it.
    static func spawn(_ args: [String], env: [String: String], logs: String, name: String) throws -> () -> (
        Int32, String
    ) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Harness.ociforge)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = logs + "/\(name).out"
        FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return {
            p.waitUntilExit()
            try? handle.close()
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            return (p.terminationStatus, text)
        }
    }

    static func tags(_ layout: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let manifests = obj["manifests"] as? [[String: Any]] ?? []
        return manifests.compactMap { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] }
    }

    @Test func concurrentPullsCopiesAssembliesAndBuildsIntoOneLayout() throws {
        let tmp = try TempDir.make("concurrency")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)  // the build cache's trees must be reachable by the sandbox's root
        let reg = try LocalRegistry(dir: tmp.path + "/registry")
        defer { reg.stop() }
        let env = [
            "HOME": tmp.path, "DOCKER_CONFIG": tmp.path + "/docker", "REGISTRY_AUTH_FILE": "",
            "OCIFORGE_STATE_DIR": tmp.path + "/state", "SOURCE_DATE_EPOCH": "1700000000"
        ]
        let source = tmp.path + "/source"
        _ = try AssembleInteropTests.assembleDemo(source)
        try Harness.ok(
            [Harness.ociforge, "image", "push", "oci-layout:\(source):latest", "\(reg.host)/conc/app:v1"],
            environment: env)
        // A scratch Dockerfile build: no sandbox phase, but layer cache stores and lookups of the same keys.
        let context = tmp.path + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data /data\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try "hello\n".write(toFile: context + "/hello.txt", atomically: true, encoding: .utf8)
        try Data(repeating: 0x5a, count: 2 << 20).write(to: URL(fileURLWithPath: context + "/data"))
        let logs = tmp.path + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)

        let shared = tmp.path + "/shared"
        let cache = tmp.path + "/cache"
        var expected: [String] = []
        for round in 0..<3 {
            let commands: [(String, [String])] = [
                ("pull-a", ["image", "pull", "\(reg.host)/conc/app:v1", "oci-layout:\(shared):pull-a-\(round)"]),
                ("pull-b", ["image", "pull", "\(reg.host)/conc/app:v1", "oci-layout:\(shared):pull-b-\(round)"]),
                ("copy", ["image", "copy", "oci-layout:\(source):latest", "oci-layout:\(shared):copy-\(round)"]),
                (
                    "assemble",
                    [
                        "image", "assemble", "--base", "scratch", "--layer-dir",
                        Harness.fixture("apps/static-site/public") + ":/www",
                        "--label", "round=\(round)", "--output", "oci-layout:\(shared):assemble-\(round)"
                    ]
                ),
                (
                    "build-a",
                    [
                        "dockerfile", "build", context, "--cache-dir", cache, "-q", "--output",
                        "oci-layout:\(shared):build-a-\(round)"
                    ]
                ),
                (
                    "build-b",
                    [
                        "dockerfile", "build", context, "--cache-dir", cache, "-q", "--output",
                        "oci-layout:\(shared):build-b-\(round)"
                    ]
                )
            ]
            let waits = try commands.map { try Self.spawn($0.1, env: env, logs: logs, name: "\($0.0)-\(round)") }
            for ((name, _), wait) in zip(commands, waits) {
                let (status, output) = wait()
                #expect(status == 0, "\(name) round \(round) failed: \(output)")
            }
            expected += commands.map { "\($0.0)-\(round)" }
            let tags = try Self.tags(shared)
            #expect(Set(tags) == Set(expected), "tags after round \(round): \(tags.sorted())")
            #expect(tags.count == Set(tags).count, "a tag appears twice: \(tags.sorted())")
        }
        let verify = try Harness.run([Harness.ociforge, "image", "verify", "oci-layout:\(shared)"], environment: env)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        for tag in expected {
            #expect(
                try Harness.run([Harness.ociforge, "image", "verify", "oci-layout:\(shared):\(tag)"], environment: env)
                    .status == 0)
        }
        // No temporary file survives in the layout or the cache's blob store.
        for dir in [shared, shared + "/blobs", cache + "/blobs", cache + "/blobs/blobs"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            #expect(!names.contains { $0.hasPrefix(".ociforge-tmp-") }, "temporary files left in \(dir): \(names)")
        }
    }
}
