import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

@Suite("No-overlay fallback (before/after manifests)")
struct FallbackTests {
    @Test("the manifest differ's change set applied to the base equals the tree after the phase")
    func manifestDiffer() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        // An earlier overlay phase, materialized into the fallback tree.
        let p1 = try sb.run(
            PhaseSpec(name: "p1", command: ["/bin/sh", "-c", "echo one > /p1file; rm /etc/issue.net"]), base: base,
            output: Fixture.Output().sink)
        defer { p1.discard() }
        let script = """
            set -e
            test "$(cat /p1file)" = one && test ! -e /etc/issue.net
            echo new > /newfile
            rm /etc/issue
            rm -rf /usr/share/doc/debconf
            chmod 700 /opt
            mkdir /x && ln -s a /x/l
            rm -rf /var/log/apt && mkdir /var/log/apt && echo y > /var/log/apt/m
            mkfifo /fifo
            """
        var phase = PhaseSpec(name: "fallback", command: ["/bin/sh", "-c", script])
        phase.overlay = .never
        let out = Fixture.Output()
        let o = try sb.run(phase, base: base, layers: [p1.upper], output: out.sink)
        defer { o.discard() }
        #expect(o.fullTree)
        let cs = o.changes.changes
        #expect(cs.contains(.add(path: "newfile", source: o.upper + "/newfile")))
        #expect(cs.contains(.delete(path: "etc/issue")))
        #expect(cs.contains(.delete(path: "usr/share/doc/debconf")))
        #expect(
            !cs.contains {
                if case .delete(let p) = $0 { return p.hasPrefix("usr/share/doc/debconf/") }
                return false
            })
        #expect(cs.contains(.add(path: "opt", source: o.upper + "/opt")))
        #expect(cs.contains(.add(path: "x/l", source: o.upper + "/x/l")))
        #expect(
            !cs.contains { $0.path.hasPrefix("proc") || $0.path.hasPrefix("dev") || $0.path.hasPrefix("etc/hosts") })

        // Applying p1's and this phase's changes to the base reproduces the tree.
        let work = try Fixture.tempDir("fallback")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let copy = work + "/rootfs"
        #expect(try runHost("/bin/cp", ["-a", base, copy]).status == 0)
        try ChangeSetApplier.apply(p1.changes, to: copy)
        try ChangeSetApplier.apply(o.changes, to: copy)
        func manifest(_ root: String) throws -> String {
            let out = Fixture.Output()
            var ph = PhaseSpec(name: "manifest", command: ["/bin/sh", "-c", manifestScript])
            ph.overlay = .never
            let m = try sb.run(ph, base: root, output: out.sink)
            m.discard()
            return out.text
        }
        let a = try manifest(o.upper), b = try manifest(copy)
        #expect(a.count > 1000)
        if a != b {
            let sa = Set(a.split(separator: "\n")), sbb = Set(b.split(separator: "\n"))
            Issue.record(
                "only tree: \(sa.subtracting(sbb).sorted().prefix(20))\nonly applied: \(sbb.subtracting(sa).sorted().prefix(20))"
            )
        }
    }
}
