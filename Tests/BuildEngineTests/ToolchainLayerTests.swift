import Foundation
import OCIWriter
import Planner
import Sandbox
import Synchronization
import Testing

@testable import BuildEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A frozen plan's upstream toolchain on the fake runner: installed from the host archive cache (its pinned URL is
/// a closed loopback port: any index or download request would fail), one layer under /opt/ociforge/toolchains in
/// both stages, its PATH for the steps and in the image, the layer reused by another app.
@Suite(.serialized) struct ToolchainLayerTests {
    static let version = "1.2.3"
    static let prefix = "/opt/ociforge/toolchains/node/1.2.3"
    #if arch(arm64)
        static let platform = "linux/arm64"
    #else
        static let platform = "linux/amd64"
    #endif

    /// A node-shaped tar.gz (`node-v1.2.3-linux-x64/bin/node`) placed in `<state>/toolchains/blobs/sha256/`.
    static func cachedArchive(_ root: Scratch, state: String) throws -> PinnedArchive {
        try root.write("archive/node-v1.2.3-linux-x64/bin/node", "#!/bin/sh\necho v1.2.3\n", mode: 0o755)
        let tgz = root.path + "/node.tar.gz"
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", tgz, "-C", root.path + "/archive", "node-v1.2.3-linux-x64"]
        try tar.run()
        tar.waitUntilExit()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tgz))
        let digest = Digest.of([UInt8](bytes))
        let blobs = state + "/toolchains/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        try bytes.write(to: URL(fileURLWithPath: blobs + "/" + digest.hex))
        return PinnedArchive(
            component: "node", url: "http://127.0.0.1:9/node/v1.2.3/node-v1.2.3-linux-x64.tar.gz",
            format: "tar.gz", digest: digest.string, size: Int64(bytes.count))
    }

    static func request(
        app: String, base: String, layout: String, archive: PinnedArchive, cache: String,
        events: @escaping @Sendable (BuildEvent) -> Void
    ) throws -> BuildRequest {
        var po = PlanOptions()
        po.buildCmd = "make all"
        var result = try Planner.plan(appDirectory: app, options: po)
        let pin = ToolchainPin(
            version: version, url: archive.url, digest: archive.digest, platform: platform,
            artifacts: [archive])
        result.plan.toolchains.append(
            Toolchain(
                name: "node", source: .upstream, request: nil, version: version, packages: [],
                upstream: UpstreamRequirement(
                    channel: "node", constraint: version, mirror: nil, runtime: .full, pin: pin)))
        var o = BuildOptions(output: .ociLayout(path: layout, tag: "v1"))
        o.base = base
        o.runtimeBase = base
        o.sourceDateEpoch = 1_700_000_000
        o.cacheDirectory = cache
        o.events = events
        return BuildRequest(source: .app(directory: app, plan: result, planOptions: po), options: o)
    }

    @Test("frozen upstream toolchain: layer in both stages from the host cache, PATH in steps and image, reused")
    func frozenToolchainLayer() throws {
        let root = try Scratch("toolchain")
        defer { root.remove() }
        try root.write("base/etc/os-release", "ID=fake\n")
        try root.write("base/bin/sh", "#!fake\n", mode: 0o755)
        try root.write("app/start.sh", "echo hi\n", mode: 0o755)
        try root.write("other/start.sh", "echo other\n", mode: 0o755)
        let state = root.path + "/state"
        let archive = try Self.cachedArchive(root, state: state)
        let runner = FakePhaseRunner(state: state, effect: EngineTests.effect)
        let events = Mutex<[BuildEvent]>([])
        let first = try BuildEngine.buildBlocking(
            try Self.request(
                app: root.path + "/app", base: root.path + "/base", layout: root.path + "/out",
                archive: archive, cache: root.path + "/cache", events: { e in events.withLock { $0.append(e) } }),
            runner: runner)
        let statuses = first.timings.filter { $0.phase == "toolchain-node" }.map { "\($0.stage) \($0.status)" }
        #expect(statuses == ["build ran", "runtime cached"], "\(statuses)")
        let step = try #require(runner.ran.withLock { $0.first { $0.name == "build" } })
        #expect(step.environment["PATH"]?.contains(Self.prefix + "/bin:") == true, "\(step.environment)")

        let image = try OCILayout.open(at: root.path + "/out").resolve(tag: "v1")
        let env = image.config.value.config?.env ?? []
        #expect(env.contains { $0.hasPrefix("PATH=") && $0.contains(Self.prefix + "/bin") }, "\(env)")
        let unpacked = root.path + "/unpacked"
        try EngineTests.unpack(root.path + "/out", tag: "v1", into: unpacked)
        var st = stat()
        #expect(lstat(unpacked + Self.prefix + "/bin/node", &st) == 0 && st.st_mode & 0o777 == 0o755)
        #expect(st.st_mtim.tv_sec == 1_700_000_000, "times fixed: the layer depends only on the archive")

        // Another app with the same pin: the layer comes from the cache in both stages.
        let second = try BuildEngine.buildBlocking(
            try Self.request(
                app: root.path + "/other", base: root.path + "/base", layout: root.path + "/out2",
                archive: archive, cache: root.path + "/cache", events: { _ in }),
            runner: runner)
        let again = second.timings.filter { $0.phase == "toolchain-node" }.map { "\($0.stage) \($0.status)" }
        #expect(again == ["build cached", "runtime cached"], "\(again)")
        let layer = { (r: BuildReport) in r.layers.first { $0.createdBy.hasPrefix("ociforge toolchain node") }?.digest }
        #expect(layer(first) != nil && layer(first) == layer(second))
    }
}
