import Foundation
import OCIWriter
import Planner
import Sandbox
import Testing

@testable import BuildEngine

/// Cache keys name what a step is, never where a machine keeps it: the same app and base built in two workspaces
/// (different app, base, state and cache paths) give the same keys and the same layers.
@Suite struct MachineIndependentKeysTests {
    /// A machine: the app and a base tarball (same bytes as the other machine's) under its own root.
    struct Machine {
        let root: Scratch
        var app: String { root.path + "/src/app" }
        var state: String { root.path + "/var/lib/ociforge-state" }
        var base: String { root.path + "/images/base.tar.gz" }

        init(_ label: String, baseTree: String) throws {
            root = try Scratch(label)
            try root.write("src/app/start.sh", "echo hi\n", mode: 0o755)
            try root.write("src/app/data/a.txt", "one\n")
            try FileManager.default.createDirectory(
                atPath: root.path + "/images", withIntermediateDirectories: true)
            _ = try LayerWriter.write(
                directory: baseTree, to: base, options: LayerWriteOptions(sourceDateEpoch: 1_700_000_000))
        }

        func build() throws -> BuildReport {
            var po = PlanOptions()
            po.buildCmd = "make all"
            let result = try Planner.plan(appDirectory: app, options: po)
            var o = BuildOptions(output: .ociLayout(path: root.path + "/out", tag: "v1"))
            o.base = base
            o.runtimeBase = base
            o.sourceDateEpoch = 1_700_000_000
            let request = BuildRequest(source: .app(directory: app, plan: result, planOptions: po), options: o)
            return try BuildEngine.buildBlocking(
                request, runner: FakePhaseRunner(state: state, effect: EngineTests.effect))
        }

        /// The keys of every step the build stored in its layer cache.
        var keys: Set<String> {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: state + "/build-cache/entries")) ?? []
            return Set(names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
        }
    }

    @Test("two machines (different app, base, state and cache paths) compute the same keys and the same layers")
    func sameKeysOnTwoMachines() throws {
        let baseTree = try Scratch("base-tree")
        defer { baseTree.remove() }
        try baseTree.write("etc/os-release", "ID=fake\n")
        try baseTree.write("bin/sh", "#!fake\n", mode: 0o755)
        let a = try Machine("machine-a", baseTree: baseTree.path)
        defer { a.root.remove() }
        let b = try Machine("machine-b-with-a-longer-path", baseTree: baseTree.path)
        defer { b.root.remove() }
        #expect(a.app != b.app && a.state != b.state)
        let ra = try a.build(), rb = try b.build()
        #expect(!a.keys.isEmpty)
        #expect(
            a.keys == b.keys, "keys only on A: \(a.keys.subtracting(b.keys)), only on B: \(b.keys.subtracting(a.keys))")
        // The same layers (the manifests differ only by the base's name annotation: here the tarballs' paths).
        #expect(ra.layers.map(\.digest) == rb.layers.map(\.digest))
        #expect(ra.executed == ["build/build", "runtime/user"] && rb.executed == ra.executed)
    }
}
