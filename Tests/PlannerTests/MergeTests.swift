import Foundation
import Testing

@testable import Planner

@Suite("Planner merge rules")
struct MergeTests {
    struct ArrayCase: CustomTestStringConvertible, Sendable {
        var lower: [String]?
        var higher: [String]?
        var merged: [String]?
        var finalized: [String]
        var testDescription: String { "\(lower ?? ["nil"]) < \(higher ?? ["nil"])" }
    }

    static let arrayCases: [ArrayCase] = [
        .init(lower: ["a"], higher: nil, merged: ["a"], finalized: ["a"]),
        .init(lower: nil, higher: ["b"], merged: ["b"], finalized: ["b"]),
        .init(lower: ["a"], higher: ["b"], merged: ["b"], finalized: ["b"]),
        .init(lower: ["a", "b"], higher: [], merged: [], finalized: []),
        .init(lower: ["a", "b"], higher: ["...", "c"], merged: ["a", "b", "c"], finalized: ["a", "b", "c"]),
        .init(lower: ["a", "b"], higher: ["c", "..."], merged: ["c", "a", "b"], finalized: ["c", "a", "b"]),
        .init(lower: ["a"], higher: ["x", "@auto", "y"], merged: ["x", "a", "y"], finalized: ["x", "a", "y"]),
        .init(lower: ["a"], higher: ["...", "..."], merged: ["a", "a"], finalized: ["a", "a"]),
        .init(lower: nil, higher: ["...", "c"], merged: ["...", "c"], finalized: ["c"]),
        .init(lower: [], higher: ["...", "c"], merged: ["c"], finalized: ["c"]),
        .init(lower: ["...", "a"], higher: ["...", "b"], merged: ["...", "a", "b"], finalized: ["a", "b"]),
        .init(lower: ["a"], higher: ["@auto"], merged: ["a"], finalized: ["a"])
    ]

    @Test("arrays replace, `...` and `@auto` splice the lower array", arguments: arrayCases)
    func arrays(_ c: ArrayCase) {
        let merged = Merge.array(c.lower, c.higher)
        #expect(merged == c.merged)
        #expect(Merge.finalize(merged) == c.finalized)
    }

    /// Every array field of a phase follows the array rule; every scalar field the scalar rule.
    @Test("every phase field merges by its type")
    func phaseFields() {
        typealias AP = WritableKeyPath<PhaseConfig, [String]?>
        let arrayFields: [(String, AP)] = [
            ("dependsOn", \.dependsOn), ("nixPkgs", \.nixPkgs), ("nixLibs", \.nixLibs), ("nixOverlays", \.nixOverlays),
            ("aptPkgs", \.aptPkgs), ("cmds", \.cmds), ("onlyIncludeFiles", \.onlyIncludeFiles),
            ("cacheDirectories", \.cacheDirectories), ("paths", \.paths)
        ]
        for (name, kp) in arrayFields {
            var low = PhaseConfig()
            low[keyPath: kp] = ["low"]
            var high = PhaseConfig()
            high[keyPath: kp] = ["...", "high"]
            #expect(high.merged(over: low)[keyPath: kp] == ["low", "high"], "\(name) splice")
            high[keyPath: kp] = ["high"]
            #expect(high.merged(over: low)[keyPath: kp] == ["high"], "\(name) replace")
            #expect(PhaseConfig().merged(over: low)[keyPath: kp] == ["low"], "\(name) absent keeps lower")
        }
        let scalars: [(String, WritableKeyPath<PhaseConfig, String?>)] = [
            ("name", \.name), ("nixpkgsArchive", \.nixpkgsArchive)
        ]
        for (name, kp) in scalars {
            var low = PhaseConfig()
            low[keyPath: kp] = "low"
            var high = PhaseConfig()
            high[keyPath: kp] = "high"
            #expect(high.merged(over: low)[keyPath: kp] == "high", "\(name)")
            #expect(PhaseConfig().merged(over: low)[keyPath: kp] == "low", "\(name)")
            high[keyPath: kp] = nil
            #expect(high.merged(over: low)[keyPath: kp] == "low", "\(name)")
        }
    }

    @Test("start merges field by field")
    func start() {
        let low = StartConfig(cmd: "low", runImage: "img", onlyIncludeFiles: ["a"], user: "app")
        let high = StartConfig(cmd: "high", runImage: nil, onlyIncludeFiles: ["...", "b"], user: nil)
        let m = high.merged(over: low)
        #expect(m == StartConfig(cmd: "high", runImage: "img", onlyIncludeFiles: ["a", "b"], user: "app"))
        let plan = BuildPlanConfig(start: high).merged(over: BuildPlanConfig(start: low))
        #expect(plan.start == m)
        #expect(BuildPlanConfig().merged(over: BuildPlanConfig(start: low)).start == low)
        #expect(BuildPlanConfig(start: high).merged(over: BuildPlanConfig()).start == high)
    }

    @Test("maps merge key by key, higher wins")
    func maps() {
        let low = BuildPlanConfig(variables: ["A": "1", "B": "1"], staticAssets: ["x": "low"])
        let high = BuildPlanConfig(variables: ["B": "2", "C": "2"], staticAssets: ["y": "high"])
        let m = high.merged(over: low)
        #expect(m.variables == ["A": "1", "B": "2", "C": "2"])
        #expect(m.staticAssets == ["x": "low", "y": "high"])
        #expect(BuildPlanConfig().merged(over: low).variables == low.variables)
    }

    @Test("phases merge by name; scalars and providers")
    func phasesAndScalars() {
        let low = BuildPlanConfig(
            providers: ["python"], buildImage: "low",
            phases: ["setup": PhaseConfig(aptPkgs: ["a"]), "install": PhaseConfig(cmds: ["i"])])
        let high = BuildPlanConfig(
            providers: ["...", "node"], buildImage: "high",
            phases: ["setup": PhaseConfig(aptPkgs: ["...", "b"]), "build": PhaseConfig(cmds: ["b"])])
        let m = high.merged(over: low)
        #expect(m.providers == ["python", "node"])
        #expect(m.buildImage == "high")
        #expect(m.phases?["setup"]?.aptPkgs == ["a", "b"])
        #expect(m.phases?["install"]?.cmds == ["i"])
        #expect(m.phases?["build"]?.cmds == ["b"])
        #expect(BuildPlanConfig().merged(over: low).buildImage == "low")
    }

    @Test("prefixing renames phases and their own dependencies")
    func prefixing() {
        let p = BuildPlanConfig(phases: [
            "setup": PhaseConfig(), "install": PhaseConfig(), "build": PhaseConfig(dependsOn: ["install", "other"])
        ])
        let q = p.prefixed("node")
        #expect(Set(q.phases!.keys) == ["node:setup", "node:install", "node:build"])
        #expect(q.phases!["node:install"]!.dependsOn == ["node:setup"])
        #expect(q.phases!["node:build"]!.dependsOn == ["node:install", "other"])
    }
}

/// A small seeded generator (SplitMix64) for property tests: reproducible, no global state.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum PlanGenerator {
    static let words = ["a", "b", "c", "d", "...", "@auto"]

    static func array(_ g: inout SplitMix64) -> [String]? {
        if Int.random(in: 0..<3, using: &g) == 0 { return nil }
        return (0..<Int.random(in: 0...4, using: &g)).map { _ in words.randomElement(using: &g)! }
    }
    static func scalar(_ g: inout SplitMix64) -> String? {
        Bool.random(using: &g) ? nil : ["x", "y", "z"].randomElement(using: &g)!
    }
    static func map(_ g: inout SplitMix64) -> [String: String]? {
        if Bool.random(using: &g) { return nil }
        var m: [String: String] = [:]
        for _ in 0..<Int.random(in: 0...3, using: &g) {
            m[["K1", "K2", "K3"].randomElement(using: &g)!] = scalar(&g) ?? "v"
        }
        return m
    }
    static func phase(_ g: inout SplitMix64) -> PhaseConfig {
        PhaseConfig(
            name: scalar(&g), dependsOn: array(&g), nixPkgs: array(&g), nixLibs: array(&g), nixOverlays: array(&g),
            nixpkgsArchive: scalar(&g), aptPkgs: array(&g), cmds: array(&g), onlyIncludeFiles: array(&g),
            cacheDirectories: array(&g), paths: array(&g))
    }
    static func plan(_ g: inout SplitMix64) -> BuildPlanConfig {
        var p = BuildPlanConfig(providers: array(&g), buildImage: scalar(&g), variables: map(&g), staticAssets: map(&g))
        if Bool.random(using: &g) {
            var phases: [String: PhaseConfig] = [:]
            for _ in 0..<Int.random(in: 0...3, using: &g) {
                phases[["setup", "install", "build"].randomElement(using: &g)!] = phase(&g)
            }
            p.phases = phases
        }
        if Bool.random(using: &g) {
            p.start = StartConfig(cmd: scalar(&g), runImage: scalar(&g), onlyIncludeFiles: array(&g), user: scalar(&g))
        }
        return p
    }
}

@Suite("Planner merge properties")
struct MergePropertyTests {
    @Test("merging is associative", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func associative(seed: UInt64) {
        var g = SplitMix64(seed: seed)
        for _ in 0..<250 {
            let a = PlanGenerator.plan(&g), b = PlanGenerator.plan(&g), c = PlanGenerator.plan(&g)
            let left = c.merged(over: b.merged(over: a))
            let right = c.merged(over: b).merged(over: a)
            #expect(left == right)
        }
    }

    @Test("any grouping of the five-level priority chain gives the same plan", arguments: [11, 12, 13] as [UInt64])
    func chainGrouping(seed: UInt64) {
        var g = SplitMix64(seed: seed)
        for _ in 0..<100 {
            // providers < Procfile < config file < environment < CLI
            let chain = (0..<5).map { _ in PlanGenerator.plan(&g) }
            let flat = BuildPlanConfig.merging(chain)
            let lowFirst = BuildPlanConfig.merging([
                BuildPlanConfig.merging(Array(chain[0..<2])), BuildPlanConfig.merging(Array(chain[2..<5]))
            ])
            let highFirst = BuildPlanConfig.merging([chain[0], BuildPlanConfig.merging(Array(chain[1..<5]))])
            #expect(flat == lowFirst)
            #expect(flat == highFirst)
        }
    }

    @Test("empty plan is the identity; finalize is idempotent", arguments: [21, 22] as [UInt64])
    func identity(seed: UInt64) {
        var g = SplitMix64(seed: seed)
        for _ in 0..<200 {
            let a = PlanGenerator.plan(&g)
            #expect(BuildPlanConfig().merged(over: a) == a)
            #expect(a.merged(over: BuildPlanConfig()) == a)
            let arr = PlanGenerator.array(&g)
            #expect(Merge.finalize(Merge.finalize(arr)) == Merge.finalize(arr))
        }
    }
}
