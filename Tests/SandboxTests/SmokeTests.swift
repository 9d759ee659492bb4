import Foundation
import OCIWriter
import Testing

@testable import BuildEngine
@testable import Sandbox

@Suite("Sandbox basics")
struct SandboxBasicsTests {
    @Test("a no-op phase produces an empty change set and runs as uid 0 in its namespace")
    func noOpPhase() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        let out = Fixture.Output()
        let r = try sb.run(
            PhaseSpec(name: "noop", command: ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; hostname"]), base: base,
            output: out.sink)
        defer { r.discard() }
        #expect(r.changes.changes.isEmpty, "changes: \(r.changes.changes)")
        #expect(out.lines.first == "0")
        #expect(out.lines.contains("ociforge"))
    }

    @Test("a file name that is not UTF-8 is refused with an error naming it, never mangled")
    func nonUTF8Name() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        do {
            let o = try sb.run(
                PhaseSpec(name: "bad", command: ["/bin/sh", "-c", "touch \"$(printf '/tmp/bad\\377name')\""]),
                base: base,
                output: Fixture.Output().sink)
            o.discard()
            Issue.record("accepted a non-UTF-8 name")
        } catch let e as SandboxError {
            #expect(e.code == .diff)
            #expect(e.message.contains("bad\\xffname"), "\(e)")
        }
    }

    @Test("concurrent phases (async API) on the same base are independent; layers stack as lowers")
    func concurrentPhases() async throws {
        let sb = try Fixture.rootSandbox()
        let base = try await BaseStore(state: sb.state, identity: sb.identity).rootfsDetached(
            for: .tarball(try Fixture.debianTarball()))
        async let a = sb.runDetached(
            PhaseSpec(name: "a", command: ["/bin/sh", "-c", "echo a > /who"]), base: base, output: Fixture.Output().sink
        )
        async let b = sb.runDetached(
            PhaseSpec(name: "b", command: ["/bin/sh", "-c", "echo b > /who; rm /etc/issue"]), base: base,
            output: Fixture.Output().sink)
        let (oa, ob) = try await (a, b)
        defer {
            oa.discard()
            ob.discard()
        }
        #expect(oa.changes.changes == [.add(path: "who", source: oa.upper + "/who")])
        #expect(Set(ob.changes.changes).contains(.delete(path: "etc/issue")))
        // b on top of a: sees a's file replaced by its own and a's view underneath.
        let out = Fixture.Output()
        let c = try await sb.runDetached(
            PhaseSpec(name: "c", command: ["/bin/sh", "-c", "cat /who; test -e /etc/issue || echo no-issue"]),
            base: base, layers: [oa.upper, ob.upper], output: out.sink)
        c.discard()
        #expect(out.lines == ["b", "no-issue"])
    }
}
