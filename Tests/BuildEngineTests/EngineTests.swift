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

/// The engine end to end with `FakePhaseRunner`: plans and Dockerfiles built in-process (no namespaces), through the
/// layer cache, into a layout or a docker-archive.
@Suite(.serialized) struct EngineTests {
    /// The fake phases' effect: `/app/built-by-<phase>` holding the phase's script; a script containing `exit 7`
    /// fails like a command exiting with status 7.
    static let effect: @Sendable (PhaseSpec, String) throws -> Void = { phase, upper in
        let script = phase.command.last ?? ""
        if script.contains("exit 7") {
            throw SandboxError(
                .commandFailed, "phase '\(phase.name)' failed",
                detail:
                    "last output lines:\n    disk on fire\n    ociforge: command 1 of 1 failed: exit 7 (exit status 7)",
                exitStatus: 7)
        }
        try FileManager.default.createDirectory(atPath: upper + "/app", withIntermediateDirectories: true)
        try script.write(toFile: upper + "/app/built-by-\(phase.name)", atomically: false, encoding: .utf8)
    }

    /// A workspace: a base rootfs directory, an app (start.sh, data/a.txt), a state directory.
    struct Workspace {
        let root: Scratch
        var base: String { root.path + "/base" }
        var app: String { root.path + "/app" }
        var state: String { root.path + "/state" }
        var layout: String { root.path + "/out" }

        init() throws {
            root = try Scratch("plan")
            try root.write("base/etc/os-release", "ID=fake\n")
            try root.write("base/bin/sh", "#!fake\n", mode: 0o755)
            try root.write("app/start.sh", "echo hi\n", mode: 0o755)
            try root.write("app/data/a.txt", "one\n")
        }

        func request(
            buildCmd: String = "make all", output: ImageLocation? = nil, parallelStages: Bool = true,
            events: @escaping @Sendable (BuildEvent) -> Void = { _ in }
        ) throws -> BuildRequest {
            var po = PlanOptions()
            po.buildCmd = buildCmd
            let result = try Planner.plan(appDirectory: app, options: po)
            var o = BuildOptions(output: output ?? .ociLayout(path: layout, tag: "v1"))
            o.base = base
            o.runtimeBase = base
            o.sourceDateEpoch = 1_700_000_000
            o.events = events
            o.parallelStages = parallelStages
            return BuildRequest(source: .app(directory: app, plan: result, planOptions: po), options: o)
        }
    }

    static func unpack(_ layout: String, tag: String, into dir: String) throws {
        let image = try OCILayout.open(at: layout).resolve(tag: tag)
        let layers = try image.layerBlobs().map { LayerSource(path: $0.path, compression: $0.compression) }
        _ = try LayerExtractor.unpack(layers: layers, to: dir, options: LayerExtractionOptions(ownership: .ignore))
    }

    @Test(
        "plan build: steps in order, app files staged, image in the layout; a rebuild is all cache hits, an edit re-runs"
    )
    func planBuildCachesAndStages() throws {
        let w = try Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: Self.effect)
        let events = Mutex<[BuildEvent]>([])
        let cold = try BuildEngine.buildBlocking(
            try w.request { e in events.withLock { $0.append(e) } }, runner: runner)
        // The plan step and the runtime stage's non-root account (uid 10001, Planner's RuntimeUser), in either
        // order (the runtime account is made beside the build stage); the report lists the build stage first.
        #expect(runner.phases.sorted() == ["build", "user"], "the plan step and the runtime user ran: \(runner.phases)")
        #expect(cold.executed == ["build/build", "runtime/user"])
        #expect(cold.cached == [])
        #expect(cold.timings.map { "\($0.stage)/\($0.phase)" }.first == "build/base")
        #expect(cold.timings.contains { $0.phase == "build" && $0.status == .ran })
        #expect(cold.output == "oci-layout:\(w.layout):v1" && cold.deliveredDigest == nil)
        let seen = events.withLock { $0 }
        let started = seen.firstIndex(of: .started(step: "build/build", detail: "running 1 command"))
        let output = seen.firstIndex(of: .output(step: "build/build", line: "fake phase build", isError: false))
        let finished = seen.firstIndex {
            if case .finished(let s, _, _, _) = $0 { return s == "build/build" }
            return false
        }
        #expect(
            started != nil && output != nil && finished != nil && started! < output! && output! < finished!, "\(seen)")

        // Staging: the app's files under /app (start.sh executable), the step's output above them.
        let image = try OCILayout.open(at: w.layout).resolve(tag: "v1")
        #expect(image.manifestDescriptor.digest == cold.manifestDigest)
        let root = w.root.path + "/unpacked"
        try Self.unpack(w.layout, tag: "v1", into: root)
        #expect(try String(contentsOfFile: root + "/app/data/a.txt", encoding: .utf8) == "one\n")
        var st = stat()
        #expect(lstat(root + "/app/start.sh", &st) == 0 && st.st_mode & 0o777 == 0o755)
        #expect(
            FileManager.default.fileExists(atPath: root + "/etc/os-release"), "the runtime base is the bottom layer")

        // Warm: every step from the cache, nothing runs, same image.
        let warm = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        #expect(runner.phases.sorted() == ["build", "user"], "a cached rebuild ran \(runner.phases)")
        #expect(warm.executed == [] && warm.cached == ["build/build", "runtime/user"])
        #expect(warm.manifestDigest == cold.manifestDigest)
        #expect(warm.layers.allSatisfy { $0.cached })

        // An edited input file misses the cache from its copy step on.
        try w.root.write("app/data/a.txt", "two\n")
        let edited = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        #expect(runner.phases.count == 3 && runner.phases.last == "build")
        #expect(edited.executed == ["build/build"])
        #expect(edited.manifestDigest != cold.manifestDigest)
    }

    @Test("the runtime stage's account is made while the build step runs; --serial-stages runs it after; same image")
    func runtimeStageRunsBesideTheBuildStage() throws {
        let w = try Workspace()
        defer { w.root.remove() }
        // The build phase waits until the runtime stage's user phase has started: only stages running at once finish.
        let userStarted = DispatchSemaphore(value: 0)
        let runner = FakePhaseRunner(state: w.state) { phase, upper in
            if phase.name == "user" { userStarted.signal() }
            if phase.name == "build" && userStarted.wait(timeout: .now() + 30) == .timedOut {
                throw SandboxError(.commandFailed, "the runtime stage did not start while the build phase ran")
            }
            try Self.effect(phase, upper)
        }
        let beside = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        #expect(beside.executed == ["build/build", "runtime/user"])
        #expect(
            beside.timings.map { "\($0.stage)/\($0.phase)" }
                == [
                    "build/base", "build/build-inputs", "build/build", "runtime/base", "runtime/user",
                    "runtime/from-build"
                ],
            "\(beside.timings)")

        // One after the other: the same image from a clean cache, phases strictly in order.
        let serialRunner = FakePhaseRunner(state: w.state + "2", effect: Self.effect)
        try? FileManager.default.removeItem(atPath: w.layout)
        var request = try w.request(parallelStages: false)
        request.options.cacheDirectory = w.root.path + "/cache2"
        let serial = try BuildEngine.buildBlocking(request, runner: serialRunner)
        #expect(serialRunner.phases == ["build", "user"])
        #expect(serial.manifestDigest == beside.manifestDigest)
    }

    @Test("a failing build step while the runtime stage runs beside it: the build step's error, after both ended")
    func buildStageFailureBesideTheRuntimeStage() throws {
        let w = try Workspace()
        defer { w.root.remove() }
        let userEnded = Mutex(false)
        let runner = FakePhaseRunner(state: w.state) { phase, upper in
            if phase.name == "user" {
                Thread.sleep(forTimeInterval: 0.5)
                try Self.effect(phase, upper)
                userEnded.withLock { $0 = true }
            } else {
                try Self.effect(phase, upper)
            }
        }
        #expect {
            try BuildEngine.buildBlocking(try w.request(buildCmd: "exit 7"), runner: runner)
        } throws: { e in
            (e as? BuildEngineError)?.code == .stepFailed && (e as? BuildEngineError)?.phase == "build/build"
                && userEnded.withLock { $0 }
        }
        #expect(!OCILayout.isLayout(w.layout), "nothing was written")
    }

    @Test("a failing step: BuildEngineError with code, phase, command, exit status and output; the layout is unchanged")
    func failureIsReported() throws {
        let w = try Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: Self.effect)
        _ = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        let index = try String(contentsOfFile: w.layout + "/index.json", encoding: .utf8)
        do {
            _ = try BuildEngine.buildBlocking(try w.request(buildCmd: "exit 7"), runner: runner)
            Issue.record("the failing step did not fail the build")
        } catch let error as BuildEngineError {
            #expect(error.code == .stepFailed)
            #expect(error.phase == "build/build")
            #expect(error.command == "exit 7")
            #expect(error.exitStatus == 7)
            #expect(error.lastOutput?.contains("disk on fire") == true)
            #expect(error.cause == nil, "the engine's own error: the sandbox's is summarised, not wrapped")
        }
        #expect(try String(contentsOfFile: w.layout + "/index.json", encoding: .utf8) == index, "no image was written")
    }

    @Test("output delivery: a docker-archive output gets the image built into the staging layout")
    func deliversToDockerArchive() throws {
        let w = try Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: Self.effect)
        let archive = w.root.path + "/image.tar"
        let report = try BuildEngine.buildBlocking(
            try w.request(output: .dockerArchive(path: archive, reference: "fake/app:2")),
            runner: runner)
        #expect(report.output == "docker-archive:\(archive):fake/app:2")
        #expect(
            report.layout == w.app + "/.ociforge/oci", "a non-layout output is built into <app>/.ociforge/oci first")
        #expect(report.deliveredDigest == report.manifestDigest)
        let back = w.root.path + "/back"
        let imported = try ImageTransport().copyBlocking(
            .dockerArchive(path: archive, reference: nil), .ociLayout(path: back, tag: "x"))
        #expect(imported == report.manifestDigest, "the archive holds the built image")
    }

    @Test(
        "Dockerfile source: FROM scratch, COPY, RUN on the fake runner, through the same cache",
        .enabled(if: geteuid() == 0, "the merged view of a stage is a host overlay mount"))
    func dockerfileBuild() throws {
        let s = try Scratch("df")
        defer { s.remove() }
        try s.write("ctx/hello.txt", "hello\n")
        try s.write("ctx/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\nRUN make\nCMD [\"/hello\"]\n")
        let runner = FakePhaseRunner(state: s.path + "/state", effect: Self.effect)
        var o = BuildOptions(output: .ociLayout(path: s.path + "/out", tag: nil))
        o.sourceDateEpoch = 1_700_000_000
        let request = BuildRequest(
            source: .dockerfile(
                path: s.path + "/ctx/Dockerfile", context: s.path + "/ctx", options: DockerfileOptions()),
            options: o)
        let cold = try BuildEngine.buildBlocking(request, runner: runner)
        #expect(runner.phases == ["line-3"])
        #expect(cold.tag == "latest" && cold.layers.count == 2)
        let root = s.path + "/unpacked"
        try Self.unpack(s.path + "/out", tag: "latest", into: root)
        #expect(try String(contentsOfFile: root + "/hello.txt", encoding: .utf8) == "hello\n")
        #expect(FileManager.default.fileExists(atPath: root + "/app/built-by-line-3"))
        let warm = try BuildEngine.buildBlocking(request, runner: runner)
        #expect(runner.phases == ["line-3"] && warm.executed == [] && warm.manifestDigest == cold.manifestDigest)

        var refused = o
        refused.base = "debian:bookworm"
        let refusedRequest = BuildRequest(source: request.source, options: refused)
        do {
            _ = try BuildEngine.buildBlocking(refusedRequest, runner: runner)
            Issue.record("--base was accepted for a Dockerfile")
        } catch {
            #expect(error.code == .unsupported && error.message.contains("--base"))
        }
    }

    @Test("unmapped namespace ids: one policy, an error naming the id and the path (never skipped or passed through)")
    func unmappedIDsAreRefused() throws {
        let s = try Scratch("ids")
        defer { s.remove() }
        try s.write("f", "x")
        let runner = FakePhaseRunner(state: s.path + "/state", effect: Self.effect)
        #expect(runner.identity.hostUID(0) == geteuid())
        #expect(runner.identity.hostUID(999) == nil)
        do {
            try runner.identity.give(s.path + "/f", uid: 999, gid: 999)
            Issue.record("uid 999 is not mapped by a single-id namespace")
        } catch let error as SandboxError {
            #expect(error.code == .idMapping)
            #expect(error.message.contains("999") && error.detail == s.path + "/f")
        }
        try runner.identity.giveToNamespaceRoot([s.path + "/f"])
    }
}
