import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Build phases that try to escape. Each must fail or be contained, and nothing on the host may change.
@Suite("Contained attacks (root mode)")
struct AttackTests {
    func run(
        _ name: String, _ script: String, configure: (inout PhaseSpec) -> Void = { _ in },
        layers: [String] = []
    ) throws -> (Result<PhaseOutcome, Error>, Fixture.Output) {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        var phase = PhaseSpec(name: name, command: ["/bin/sh", "-c", script])
        configure(&phase)
        let out = Fixture.Output()
        let r = Result { try sb.run(phase, base: base, layers: layers, output: out.sink) }
        return (r, out)
    }

    func expectCommandFailed(_ r: Result<PhaseOutcome, Error>, _ code: SandboxError.Code = .commandFailed) {
        switch r {
        case .success(let o):
            o.discard()
            Issue.record("the phase succeeded")
        case .failure(let e): #expect((e as? SandboxError)?.code == code, "\(e)")
        }
    }

    @Test("writing /proc/sysrq-trigger and /proc/sys fails and changes nothing on the host")
    func procWrites() throws {
        let before = try String(contentsOfFile: "/proc/sys/kernel/ctrl-alt-del", encoding: .utf8)
        let hostnameBefore = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
        let (r1, _) = try run("sysrq", "test -e /proc/sysrq-trigger || exit 1; echo h > /proc/sysrq-trigger")
        expectCommandFailed(r1)
        let (r2, _) = try run("procsys", "echo 1 > /proc/sys/kernel/ctrl-alt-del")
        expectCommandFailed(r2)
        let (r3, _) = try run("procsys2", "echo 3 > /proc/sys/vm/drop_caches")
        expectCommandFailed(r3)
        // /sys and every host submount under it (cgroups...) are read-only.
        let (r5, _) = try run(
            "sysfs",
            "mkdir /sys/fs/cgroup/ociforge-escape || mkdir /sys/fs/cgroup/memory/ociforge-escape || echo 1 > /sys/kernel/mm/ksm/run"
        )
        expectCommandFailed(r5)
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/ociforge-escape"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/ociforge-escape"))
        // The uts namespace: changing the hostname inside does not touch the host's.
        let (r4, _) = try run("hostname", "echo evil > /proc/sys/kernel/hostname || hostname evil")
        if case .success(let o) = r4 { o.discard() }
        #expect(try String(contentsOfFile: "/proc/sys/kernel/ctrl-alt-del", encoding: .utf8) == before)
        #expect(try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8) == hostnameBefore)
    }

    @Test("a host process cannot be killed from a phase")
    func killHostPid() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["300"]
        try sleeper.run()
        let pid = sleeper.processIdentifier
        defer {
            kill(pid, SIGKILL)
            sleeper.waitUntilExit()
        }
        let (r, out) = try run("kill", "kill -9 \(pid); kill -9 -1; echo done")
        if case .success(let o) = r { o.discard() }
        _ = out
        #expect(kill(pid, 0) == 0, "the host sleep \(pid) was killed")
        #expect(sleeper.isRunning)
    }

    @Test("inherited descriptors are closed; /proc/self/fd/N cannot serve as a cwd")
    func inheritedFd() throws {
        let dir = try Fixture.tempDir("fd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Leak a directory descriptor without O_CLOEXEC into everything this process spawns.
        let leaked = open(dir, O_RDONLY | O_DIRECTORY)
        #expect(leaked >= 0)
        defer { close(leaked) }
        let script = """
            for n in $(seq 3 300); do [ -e /proc/self/fd/$n ] && echo "LEAK $n $(readlink /proc/self/fd/$n)"; done
            for n in $(seq 0 300); do (cd /proc/1/fd/$n 2>/dev/null && touch escaped-$n 2>/dev/null && echo "ESCAPED $n"); done
            (cd /proc/self/fd/\(leaked) 2>/dev/null && touch escaped && echo ESCAPED-SELF)
            echo checked
            """
        let (r, out) = try run("fds", script)
        if case .success(let o) = r { o.discard() } else { Issue.record("phase failed: \(r)") }
        #expect(out.lines.contains("checked"))
        #expect(!out.text.contains("LEAK"), "\(out.text)")
        #expect(!out.text.contains("ESCAPED"), "\(out.text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        // The working directory itself cannot be a magic link to a host directory.
        let (r2, _) = try run("cwd", "touch escaped-cwd") { $0.workingDirectory = "/proc/self/fd/\(leaked)" }
        if case .success(let o) = r2 {
            o.discard()
            Issue.record("the phase ran in /proc/self/fd/\(leaked)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test(
        "/dev, /proc and /etc/resolv.conf replaced by symlinks to host paths in an earlier layer are not mounted through"
    )
    func symlinkedMountTargets() throws {
        let sb = try Fixture.rootSandbox()
        let hostDir = try Fixture.tempDir("target")
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        _ = FileManager.default.createFile(atPath: hostDir + "/resolv.conf", contents: Data("host file\n".utf8))
        let u = sb.identity.uidMap[0].hostID, g = sb.identity.gidMap[0].hostID
        // Inside a phase the mount targets cannot be replaced (they are busy mount points; overlay refuses
        // directory renames with redirect_dir=nofollow, so /etc cannot be swapped either).
        let (r0, _) = try run("plant", "rm -f /etc/resolv.conf || mv /etc /etc.old")
        expectCommandFailed(r0)
        // An earlier layer (e.g. from a hostile base image) with /etc/resolv.conf and /etc/hosts symlinked to
        // host paths: the next phase does not mount through them (warning) and cannot write the host file.
        let layer = try Fixture.tempDir("layer-etc")
        defer { try? FileManager.default.removeItem(atPath: layer) }
        mkdir(layer + "/etc", 0o755)
        try FileManager.default.createSymbolicLink(
            atPath: layer + "/etc/resolv.conf", withDestinationPath: hostDir + "/resolv.conf")
        try FileManager.default.createSymbolicLink(
            atPath: layer + "/etc/hosts", withDestinationPath: hostDir + "/hosts")
        for p in [layer, layer + "/etc", layer + "/etc/resolv.conf", layer + "/etc/hosts"] { lchown(p, u, g) }
        let (r2, _) = try run("next", "echo written > /etc/resolv.conf; echo x > /etc/hosts; echo ok", layers: [layer])
        switch r2 {
        case .success(let o):
            #expect(o.warnings.contains { $0.contains("/etc/resolv.conf") }, "\(o.warnings)")
            o.discard()
        case .failure(let e): Issue.record("\(e)")
        }
        #expect(try String(contentsOfFile: hostDir + "/resolv.conf", encoding: .utf8) == "host file\n")
        #expect(!FileManager.default.fileExists(atPath: hostDir + "/hosts"))

        // /dev and /proc as symlinks (a hostile layer): setup refuses with an error naming the path.
        for target in ["dev", "proc"] {
            let layer = try Fixture.tempDir("layer-\(target)")
            defer { try? FileManager.default.removeItem(atPath: layer) }
            try FileManager.default.createSymbolicLink(atPath: layer + "/" + target, withDestinationPath: hostDir)
            chown(layer, u, g)
            lchown(layer + "/" + target, u, g)
            let (r, _) = try run("after-\(target)", "touch /\(target)/escaped; echo ok", layers: [layer])
            switch r {
            case .success(let o):
                o.discard()
                Issue.record("phase ran with /\(target) a symlink")
            case .failure(let e):
                #expect((e as? SandboxError)?.code == .setup, "\(e)")
                #expect("\(e)".contains("/\(target)"))
            }
            #expect(!FileManager.default.fileExists(atPath: hostDir + "/escaped"))
        }
    }

    @Test("mknod and mount fail inside a phase")
    func mknodAndMount() throws {
        let (r1, _) = try run("mknod", "mknod /tmp/mem c 1 1")
        expectCommandFailed(r1)
        let (r2, _) = try run("mount", "mount -t tmpfs none /mnt")
        expectCommandFailed(r2)
        let (r3, _) = try run("mount-proc", "mount -t proc proc /mnt")
        expectCommandFailed(r3)
    }

    @Test("a fork bomb is bounded by RLIMIT_NPROC and the timeout; a hang is killed; nothing is left running")
    func forkBombAndHang() throws {
        let (r1, out1) = try run("bomb", "b() { b | b & }; b; sleep 100") {
            $0.maxProcesses = 200
            $0.timeoutSeconds = 4
        }
        // Either the timeout ends it or the top shell itself cannot fork its `sleep` and exits: both contained.
        switch r1 {
        case .success(let o):
            o.discard()
            Issue.record("the fork bomb phase succeeded")
        case .failure(let e): #expect([.timedOut, .commandFailed].contains((e as? SandboxError)?.code), "\(e)")
        }
        #expect(
            out1.text.contains("Cannot fork") || out1.text.contains("Resource temporarily unavailable"),
            "RLIMIT_NPROC did not stop the bomb: \(out1.lines.suffix(5))")
        let (r2, _) = try run("hang", "sleep 1987.25 & sleep 1987.25") { $0.timeoutSeconds = 2 }
        expectCommandFailed(r2, .timedOut)
        #expect(sandboxProcesses().isEmpty, "left over: \(sandboxProcesses())")
    }

    @Test("a secret is readable by the command and appears in no produced output")
    func secretNotInOutputs() throws {
        let token = "tok-\(UUID().uuidString)"
        let script = """
            set -e
            test "$(cat /run/secrets/api)" = "\(token)"
            echo built > /built.txt
            touch /run/secrets/new 2>/dev/null && exit 9 || true
            """
        let (r, _) = try run("secret", script) { $0.secrets = [Secret(id: "api", value: token)] }
        guard case .success(let o) = r else {
            Issue.record("\(r)")
            return
        }
        defer { o.discard() }
        #expect(o.changes.changes.contains(.add(path: "built.txt", source: o.upper + "/built.txt")))
        #expect(!o.changes.changes.contains { "\($0)".contains("run/secrets") }, "\(o.changes.changes)")
        #expect(try !treeContains(o.run.path, Array(token.utf8)))
        // The layer (compressed and uncompressed) and the change set carry no trace of it.
        let work = try Fixture.tempDir("secret")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let lr = try o.writeLayer(to: work + "/layer.tar.gz")
        #expect(lr.entryCount > 0)
        _ = try runHost("/bin/sh", ["-c", "gzip -dc \(work)/layer.tar.gz > \(work)/layer.tar"])
        #expect(try !treeContains(work, Array(token.utf8)))
        #expect(!"\(o.changes)".contains(token))
    }
}

/// Processes whose uid is in the root-mode sandbox range.
func sandboxProcesses() -> [String] {
    var found: [String] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(name) != nil {
        guard let s = try? String(contentsOfFile: "/proc/\(name)/status", encoding: .utf8) else { continue }
        for line in s.split(separator: "\n") where line.hasPrefix("Uid:") {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if f.count > 1, let u = UInt32(f[1]), u >= SandboxIdentity.fallbackRootRangeStart,
                u < SandboxIdentity.fallbackRootRangeStart + SandboxIdentity.rangeSize
            {
                // Only count processes of finished phases: running ones of parallel tests are legitimate,
                // so look for our markers.
                if let cmd = try? String(contentsOfFile: "/proc/\(name)/cmdline", encoding: .utf8),
                    cmd.contains("sleep 1987.25") || cmd.contains("b | b")
                {
                    found.append("\(name): \(cmd)")
                }
            }
        }
    }
    return found
}

/// Whether any regular file under `dir` contains `needle`.
func treeContains(_ dir: String, _ needle: [UInt8]) throws -> Bool {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return false }
    while let rel = e.nextObject() as? String {
        let p = dir + "/" + rel
        var st = stat()
        guard lstat(p, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
        guard let d = FileManager.default.contents(atPath: p) else { continue }
        if d.range(of: Data(needle)) != nil { return true }
    }
    return false
}
