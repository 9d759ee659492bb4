import Foundation
import OCIWriter
import Testing
@testable import Sandbox

@Suite("Sandbox basics")
struct SandboxBasicsTests {
    @Test("a no-op phase produces an empty change set and runs as uid 0 in its namespace")
    func noOpPhase() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        let out = Fixture.Output()
        let r = try sb.run(PhaseSpec(name: "noop", command: ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; hostname"]), base: base, output: out.sink)
        defer { r.discard() }
        #expect(r.changes.changes.isEmpty, "changes: \(r.changes.changes)")
        #expect(out.lines.first == "0")
        #expect(out.lines.contains("ociforge"))
    }
}
