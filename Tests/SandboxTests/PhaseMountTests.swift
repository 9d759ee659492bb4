import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// `PhaseSpec.tmpfs` and `PhaseSpec.files`: what the command sees, and that nothing of them reaches the change set.
@Suite("Phase tmpfs mounts and in-memory files (root mode)")
struct PhaseMountTests {
    func run(_ name: String, _ script: String, configure: (inout PhaseSpec) -> Void) throws -> (
        Result<PhaseOutcome, Error>, Fixture.Output
    ) {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        var phase = PhaseSpec(name: name, command: ["/bin/sh", "-c", script])
        configure(&phase)
        let out = Fixture.Output()
        return (Result { try sb.run(phase, base: base, output: out.sink) }, out)
    }

    @Test(
        "a tmpfs (mode 1777, size limit) and read-only files with their mode and owner; only the command's own file is a change"
    )
    func tmpfsAndFiles() throws {
        let token = "tok-\(UUID().uuidString)"
        let script = """
            set -e
            echo scratch > /var/scratch/a && stat -c %a /var/scratch
            if dd if=/dev/zero of=/var/scratch/big bs=1024 count=1024 2>/dev/null; then echo fits; else echo full; fi
            stat -c '%a %u %g' /etc/app-token; cat /etc/app-token; echo
            /usr/local/bin/hello.sh
            if { echo x > /etc/app-token; } 2>/dev/null; then echo writable; else echo read-only; fi
            echo built > /built.txt
            """
        let (r, out) = try run("mounts", script) {
            $0.tmpfs = [TmpfsMount(target: "/var/scratch", sizeBytes: 256 * 1024)]
            $0.files = [
                PhaseFile(target: "/etc/app-token", content: token, mode: 0o440, uid: 0, gid: 100),
                PhaseFile(
                    target: "/usr/local/bin/hello.sh", content: "#!/bin/sh\necho \"hello from $0\"\n", mode: 0o755)
            ]
        }
        guard case .success(let o) = r else {
            Issue.record("\(r) \(out.lines)")
            return
        }
        defer { o.discard() }
        #expect(
            out.lines == ["1777", "full", "440 0 100", token, "hello from /usr/local/bin/hello.sh", "read-only"],
            "\(out.lines)")
        #expect(o.changes.changes == [.add(path: "built.txt", source: o.upper + "/built.txt")], "\(o.changes.changes)")
        #expect(try !treeContains(o.run.path, Array(token.utf8)))
    }

    @Test("a file target through a symlink is refused, never followed")
    func symlinkTarget() throws {
        let (r, _) = try run("symlink", "true") {
            // /bin is a symlink (merged /usr): a bind through a symlink could land anywhere, so none is followed.
            $0.files = [PhaseFile(target: "/bin/planted", content: "x")]
        }
        switch r {
        case .success(let o):
            o.discard()
            Issue.record("mounted a file through a symlink")
        case .failure(let e): #expect((e as? SandboxError)?.code == .setup, "\(e)")
        }
    }
}
