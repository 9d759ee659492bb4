import Foundation
import Testing

@testable import Planner

@Suite("PlannerError keeps the parser error it wraps")
struct PlannerErrorCauseTests {
    @Test("malformed shard.yml: the YAML parser's error is the typed cause, located and rendered after the message")
    func yamlCause() throws {
        let app = try TempApp(["shard.yml": "name: x\ntargets: [\n"])
        do {
            _ = try Planner.plan(appDirectory: app.path, options: PlanOptions())
            Issue.record("planning succeeded")
        } catch {
            #expect(error.code == .syntax)
            #expect(error.message == "invalid YAML")
            #expect(error.cause.map { "\(type(of: $0))" } == "YamlError")
            #expect(error.description.hasPrefix("shard.yml:"))
            #expect(error.description.contains("invalid YAML: "))
        }
    }

    @Test("equality compares the cause as rendered")
    func equality() {
        struct A: Error, CustomStringConvertible { var description: String { "a" } }
        let base = PlannerError(.io, "x", file: "f")
        #expect(base == PlannerError(.io, "x", file: "f"))
        #expect(base != PlannerError(.io, "x", file: "f", cause: A()))
        #expect(PlannerError(.io, "x", cause: A()) == PlannerError(.io, "x", cause: A()))
    }
}
