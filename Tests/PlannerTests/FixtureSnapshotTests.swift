import Foundation
import Testing

@testable import Planner

/// Every fixture under Fixtures/planner/<name>/app is planned and compared exactly with
/// Fixtures/planner/<name>/expected-plan.json (or expected-error.txt for apps that must fail).
/// Regenerate with OCIFORGE_UPDATE_SNAPSHOTS=1 — and review the diff by eye.
enum FixtureSupport {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/planner"
    }()

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/app")
        }.sorted()
    }

    struct FixtureOptions: Decodable {
        var environment: [String: String]?
        var startCmd: String?
        var installCmd: String?
        var buildCmd: String?
        var env: [String]?
        var apt: [String]?
        var pkgs: [String]?
        var strict: Bool?
    }

    static func options(_ name: String) throws -> PlanOptions {
        var o = PlanOptions()
        let path = root + "/" + name + "/options.json"
        guard let data = FileManager.default.contents(atPath: path) else { return o }
        let f = try JSONDecoder().decode(FixtureOptions.self, from: data)
        o.environment = f.environment ?? [:]
        o.startCmd = f.startCmd
        o.installCmd = f.installCmd
        o.buildCmd = f.buildCmd
        o.env = f.env ?? []
        o.apt = f.apt ?? []
        o.pkgs = f.pkgs ?? []
        o.strict = f.strict ?? false
        return o
    }

    /// The plan JSON (or `error: …` text) for a fixture, with the app path made relative.
    static func render(_ name: String) throws -> (text: String, isError: Bool) {
        let app = root + "/" + name + "/app"
        do {
            let result = try Planner.plan(appDirectory: app, options: try options(name))
            return (PlanRenderer.json(result.plan), false)
        } catch let error as PlannerError {
            return ("error: " + error.description.replacingOccurrences(of: root + "/", with: "") + "\n", true)
        }
    }
}

@Suite("Planner fixtures")
struct FixtureSnapshotTests {
    @Test("fixture set is complete") func fixturesExist() {
        #expect(FixtureSupport.names.count >= 60)
    }

    @Test("plan matches the committed snapshot", arguments: FixtureSupport.names)
    func snapshot(name: String) throws {
        let (text, isError) = try FixtureSupport.render(name)
        let dir = FixtureSupport.root + "/" + name
        let planPath = dir + "/expected-plan.json"
        let errorPath = dir + "/expected-error.txt"
        if ProcessInfo.processInfo.environment["OCIFORGE_UPDATE_SNAPSHOTS"] == "1" {
            try? FileManager.default.removeItem(atPath: isError ? planPath : errorPath)
            try text.write(toFile: isError ? errorPath : planPath, atomically: true, encoding: .utf8)
            return
        }
        let expectedPath = FileManager.default.fileExists(atPath: planPath) ? planPath : errorPath
        let expected = try #require(
            try? String(contentsOfFile: expectedPath, encoding: .utf8), "no snapshot for \(name)")
        #expect(isError == (expectedPath == errorPath), "\(name): success/failure differs from the snapshot")
        #expect(text == expected, "\(name): plan differs from \(expectedPath)")
    }

    @Test("freeze then plan gives the identical plan", arguments: FixtureSupport.names)
    func freezeThenPlan(name: String) throws {
        let app = FixtureSupport.root + "/" + name + "/app"
        let options = try FixtureSupport.options(name)
        guard let frozen = try? Planner.freeze(appDirectory: app, options: options) else { return }
        let tmp = NSTemporaryDirectory() + "ociforge-freeze-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try PlanRenderer.writeAtomically(PlanRenderer.json(frozen.plan), to: tmp)
        var again = options
        again.frozenPlanPath = tmp
        let planned = try Planner.plan(appDirectory: app, options: again)
        #expect(planned.plan == frozen.plan)
        #expect(PlanRenderer.json(planned.plan) == PlanRenderer.json(frozen.plan))
        #expect(frozen.plan.frozen)
        // Pinned: every toolchain package Debian versions are known for carries `=version`.
        let suite = try #require(Debian.suites[frozen.plan.suite])
        for t in frozen.plan.toolchains {
            for p in t.packages
            where suite.toolchains.values.joined().contains(where: {
                $0.pins[p.split(separator: "/").first.map(String.init) ?? p] != nil
            }) {
                Issue.record("unpinned package \(p) in a frozen plan")
            }
        }
    }
}
