import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the built `ociforge` binary (next to the test bundle in .build/debug/).
enum CLI {
    static var binary: String {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent + "/ociforge"
    }

    /// Starts `ociforge` (optionally as `user` via runuser) with stdout+stderr collected.
    final class Run: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ args: [String], user: String? = nil, env: [String: String] = [:]) throws {
            var environment = ProcessInfo.processInfo.environment
            for (k, v) in env { environment[k] = v }
            if let user {
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
                process.arguments =
                    ["-u", user, "--", "/usr/bin/env"] + env.map { "\($0.key)=\($0.value)" }
                    + ["HOME=/home/\(user)", CLI.binary] + args
            } else {
                process.executableURL = URL(fileURLWithPath: CLI.binary)
                process.arguments = args
                process.environment = environment
            }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let h = pipe.fileHandleForReading
            Thread { [self] in
                while true {
                    let d = h.availableData
                    if d.isEmpty { break }
                    lock.lock()
                    data.append(d)
                    lock.unlock()
                }
                done.signal()
            }.start()
        }

        var output: String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: data, as: UTF8.self)
        }

        func wait() -> Int32 {
            process.waitUntilExit()
            done.wait()
            return process.terminationStatus
        }

        /// Waits (no time assertion: the phase prints it when it starts) until `marker` appears.
        func waitFor(_ marker: String) -> Bool {
            while process.isRunning || !output.contains(marker) {
                if output.contains(marker) { return true }
                if !process.isRunning { return output.contains(marker) }
                usleep(20_000)
            }
            return true
        }
    }

    static func run(_ args: [String], user: String? = nil, env: [String: String] = [:]) throws -> (Int32, String) {
        let r = try Run(args, user: user, env: env)
        let s = r.wait()
        return (s, r.output)
    }

    /// Creates (once) an unprivileged user with /etc/subuid and /etc/subgid ranges.
    static func rootlessUser() throws -> String {
        let user = "ocfsandbox"
        if getpwnam(user) == nil {
            let r = try runHost("/usr/sbin/useradd", ["--create-home", "--shell", "/bin/sh", user])
            if r.status != 0 && getpwnam(user) == nil { throw SandboxError(.state, "useradd failed", detail: r.output) }
        }
        for f in ["/etc/subuid", "/etc/subgid"] {
            let text = (try? String(contentsOfFile: f, encoding: .utf8)) ?? ""
            if !text.split(separator: "\n").contains(where: { $0.hasPrefix(user + ":") }) {
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: f))
                h.seekToEndOfFile()
                h.write(Data("\(user):300000:65536\n".utf8))
                try h.close()
            }
        }
        return user
    }

    /// A state directory owned by `user`.
    static func stateDir(for user: String, tag: String) throws -> String {
        let d = Fixture.cacheDir + "/state-\(user)-\(tag)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        let pw = getpwnam(user)!.pointee
        chown(d, pw.pw_uid, pw.pw_gid)
        return d
    }
}

/// Strips the `[phase] ` prefix from the lines of one phase.
func phaseLines(_ output: String, _ phase: String) -> [String] {
    output.split(separator: "\n", omittingEmptySubsequences: false).compactMap { l in
        l.hasPrefix("[\(phase)] ") ? String(l.dropFirst(phase.count + 3)) : nil
    }
}

@Suite("ociforge sandbox CLI", .serialized)
struct CLITests {
    @Test("Ctrl-C (SIGINT) and kill -9 during a phase: no processes, mounts or state left that break the next run")
    func interruptAndKill() throws {
        let tarball = try Fixture.debianTarball()
        let state = Fixture.cacheDir + "/state-cli-root"
        let env = ["OCIFORGE_STATE_DIR": state]
        for (sig, expected) in [(SIGINT, Int32(130)), (SIGKILL, Int32(-1))] {
            let marker = "\(4000 + Int(sig)).5"
            let run = try CLI.Run(
                [
                    "sandbox", "run", "--base", tarball, "--name", "long", "--",
                    "/bin/sh", "-c", "echo started; sleep \(marker) & sleep \(marker); echo never"
                ], env: env)
            #expect(run.waitFor("[long] started"), "\(run.output)")
            #expect(!processes(matching: "sleep \(marker)").isEmpty)
            kill(run.process.processIdentifier, sig)
            let status = run.wait()
            if expected >= 0 { #expect(status == expected, "\(run.output)") }
            // The launcher notices its parent's death on its lifeline pipe and kills the namespace.
            var left = processes(matching: "sleep \(marker)")
            var tries = 0
            while !left.isEmpty && tries < 500 {
                usleep(20_000)
                tries += 1
                left = processes(matching: "sleep \(marker)")
            }
            #expect(left.isEmpty, "left over: \(left)")
            #expect(!processes(matching: "ociforge-sandbox").contains { $0.contains(state) })
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mounts.contains(state), "host mounts left: \(mounts)")
            if sig == SIGINT {
                #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/runs").isEmpty)
            }
            // The next run works and removes what the killed one left behind.
            let (s2, out2) = try CLI.run(
                ["sandbox", "run", "--base", tarball, "--name", "next", "--", "/bin/echo", "fine"], env: env)
            #expect(s2 == 0, "\(out2)")
            #expect(out2.contains("[next] fine"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/runs").isEmpty)
        }
    }

    @Test("rootless: SIGINT and kill -9 of ociforge during a phase leave no processes or state behind")
    func rootlessInterruptAndKill() throws {
        let user = try CLI.rootlessUser()
        let tarball = try Fixture.debianTarball()
        let state = try CLI.stateDir(for: user, tag: "interrupt")
        let env = ["OCIFORGE_STATE_DIR": state]
        for sig in [SIGINT, SIGKILL] {
            let marker = "\(4100 + Int(sig)).5"
            let run = try CLI.Run(
                [
                    "sandbox", "run", "--base", tarball, "--name", "long", "--",
                    "/bin/sh", "-c", "echo started; sleep \(marker) & sleep \(marker)"
                ], user: user, env: env)
            #expect(run.waitFor("[long] started"), "\(run.output)")
            // runuser's child is ociforge (the host side of the rootless re-execution).
            let children =
                (try? String(
                    contentsOfFile:
                        "/proc/\(run.process.processIdentifier)/task/\(run.process.processIdentifier)/children",
                    encoding: .utf8)) ?? ""
            let pid = try #require(children.split(separator: " ").compactMap { Int32($0) }.first)
            kill(pid, sig)
            let status = run.wait()
            if sig == SIGINT { #expect(status == 130, "\(run.output)") }
            var left = processes(matching: "sleep \(marker)")
            var tries = 0
            while !left.isEmpty && tries < 500 {
                usleep(20_000)
                tries += 1
                left = processes(matching: "sleep \(marker)")
            }
            #expect(left.isEmpty, "left over: \(left)")
            let (s2, out2) = try CLI.run(
                ["sandbox", "run", "--base", tarball, "--name", "next", "--", "/bin/echo", "fine"], user: user, env: env
            )
            #expect(s2 == 0, "\(out2)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/runs").isEmpty)
        }
    }

    @Test("sandbox diff: a kept upper directory gives the same change set and layer as the run")
    func diffCommand() throws {
        let tarball = try Fixture.debianTarball()
        let env = ["OCIFORGE_STATE_DIR": Fixture.cacheDir + "/state-cli-root", "SOURCE_DATE_EPOCH": "1700000000"]
        let work = try Fixture.tempDir("diff")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (s1, o1) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--keep-upper", work + "/upper",
                "--output-changes", work + "/run.txt", "--output-layer", work + "/run.tar.gz", "--",
                "/bin/sh", "-c", "echo a > /a; rm /etc/issue; mkdir -p /opt/x"
            ], env: env)
        #expect(s1 == 0, "\(o1)")
        let (s2, o2) = try CLI.run(
            [
                "sandbox", "diff", "--base", tarball, "--upper", work + "/upper",
                "--output-changes", work + "/diff.txt", "--output-layer", work + "/diff.tar.gz"
            ], env: env)
        #expect(s2 == 0, "\(o2)")
        let run = try String(contentsOfFile: work + "/run.txt", encoding: .utf8)
        #expect(run == "add a\nadd etc\ndelete etc/issue\nadd opt\nadd opt/x\n", "\(run)")  // etc: its mtime moved
        #expect(try String(contentsOfFile: work + "/diff.txt", encoding: .utf8) == run)
        #expect(
            FileManager.default.contents(atPath: work + "/run.tar.gz")
                == FileManager.default.contents(atPath: work + "/diff.tar.gz"))
        let (s3, o3) = try CLI.run(["sandbox", "diff", "--base", tarball, "--upper", work + "/upper"], env: env)
        #expect(s3 != 0 && o3.contains("--output-layer"))
    }

    @Test(
        "a secret passed as env:VAR is in /run/secrets only: not in any process environment, output layer or change set"
    )
    func secretFromEnvironment() throws {
        let tarball = try Fixture.debianTarball()
        let token = "envtok-\(UUID().uuidString)"
        let work = try Fixture.tempDir("envsecret")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let env = ["OCIFORGE_STATE_DIR": Fixture.cacheDir + "/state-cli-root", "OCF_TEST_TOKEN": token]
        let script = """
            test "$(cat /run/secrets/tok)" = "$EXPECTED_LEN" || true
            n=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c OCF_TEST_TOKEN || true)
            echo "environ-hits=$n"
            wc -c < /run/secrets/tok
            echo done > /built
            """
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--name", "sec", "--secret", "tok=env:OCF_TEST_TOKEN",
                "--output-layer", work + "/layer.tar.gz", "--output-changes", work + "/changes.txt", "--",
                "/bin/sh", "-c", script
            ], env: env)
        #expect(s == 0, "\(out)")
        #expect(phaseLines(out, "sec").contains("environ-hits=0"), "\(out)")
        #expect(phaseLines(out, "sec").contains("\(token.utf8.count)"))
        _ = try runHost("/bin/sh", ["-c", "gzip -dc \(work)/layer.tar.gz > \(work)/layer.tar"])
        #expect(try !treeContains(work, Array(token.utf8)))
        #expect(!out.contains(token))
    }

    @Test("a failing command: exit status propagated, command line and last output lines reported")
    func failingCommand() throws {
        let tarball = try Fixture.debianTarball()
        let env = ["OCIFORGE_STATE_DIR": Fixture.cacheDir + "/state-cli-root"]
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--name", "bad", "--",
                "/bin/sh", "-c", "echo first-line; echo oops >&2; exit 7"
            ], env: env)
        #expect(s == 7)
        #expect(out.contains("[bad] first-line"))
        #expect(out.contains("exited with status 7"))
        #expect(out.contains("echo oops >&2; exit 7"))
        #expect(out.contains("    oops"))
        let (s2, out2) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--name", "slow", "--timeout", "1", "--",
                "/bin/sleep", "30"
            ], env: env)
        #expect(s2 == 124, "\(out2)")
        #expect(out2.contains("timed out after 1 s"))
    }

    @Test(
        "rootless (subuid range): apt-get install python3 cron; change set equals the merged view; apt caches not in it"
    )
    func rootlessApt() throws {
        let user = try CLI.rootlessUser()
        let tarball = try Fixture.debianTarball()
        let state = try CLI.stateDir(for: user, tag: "apt")
        let env = ["OCIFORGE_STATE_DIR": state]
        let work = try Fixture.tempDir("rootless")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let pw = getpwnam(user)!.pointee
        chown(work, pw.pw_uid, pw.pw_gid)
        let kept = work + "/upper", changesFile = work + "/changes.txt"
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--name", "apt",
                "--cache", "apt-lists:/var/lib/apt/lists", "--cache", "apt-archives:/var/cache/apt/archives",
                "--keep-upper", kept, "--output-changes", changesFile, "--output-layer", work + "/layer.tar.gz", "--",
                "/bin/sh", "-c", aptScript
            ], user: user, env: env)
        try #require(s == 0, "\(out)")
        #expect(out.contains("[apt] py-ok"))
        let lines = try String(contentsOfFile: changesFile, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.contains("add usr/bin/python3.11"))
        #expect(lines.contains("delete etc/issue"))
        #expect(lines.contains("opaque var/log/apt"))
        #expect(!lines.contains { $0.contains(" var/lib/apt/lists/") || $0.contains(" var/cache/apt/archives/") })

        // Apply the change set to a copy of the (rootless-owned) base and compare with the merged view.
        let bases = state + "/bases"
        let base = try FileManager.default.contentsOfDirectory(atPath: bases)
            .first { $0.hasPrefix("rootfs-") && FileManager.default.fileExists(atPath: bases + "/" + $0 + "/complete") }
        let baseDir = bases + "/" + (try #require(base)) + "/rootfs"
        let copy = work + "/applied"
        #expect(try runHost("/bin/cp", ["-a", baseDir, copy]).status == 0)
        let cs = ChangeSet(
            lines.map { l -> ChangeSet.Change in
                let f = l.split(separator: " ", maxSplits: 1).map(String.init)
                switch f[0] {
                case "delete": return .delete(path: f[1])
                case "opaque": return .opaque(directory: f[1])
                default: return .add(path: f[1], source: kept + "/" + f[1])
                }
            })
        try apply(cs, to: copy)
        let (m1s, m1) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--layer", kept, "--name", "m", "--", "/bin/sh", "-c",
                manifestScript
            ], user: user, env: env)
        let (m2s, m2) = try CLI.run(
            ["sandbox", "run", "--base", copy, "--name", "m", "--", "/bin/sh", "-c", manifestScript], user: user,
            env: env)
        #expect(m1s == 0 && m2s == 0, "\(m1.suffix(500)) \(m2.suffix(500))")
        let merged = phaseLines(m1, "m"), applied = phaseLines(m2, "m")
        #expect(merged.count > 1000)
        if merged != applied {
            let a = Set(merged), b = Set(applied)
            Issue.record(
                "only merged: \(a.subtracting(b).sorted().prefix(20))\nonly applied: \(b.subtracting(a).sorted().prefix(20))"
            )
        }
        // cron's maintainer script chowned its spool to group crontab: ownership is kept, not squashed.
        #expect(
            merged.contains {
                $0.hasSuffix(" ./var/spool/cron/crontabs") && !$0.hasPrefix("d 1730 0 0 ") && $0.hasPrefix("d 1730 0 ")
            }, "\(merged.filter { $0.contains("crontabs") })")
        // The layer, unpacked over the base with the user's mapping, equals the overlay's merged view.
        let mapping = try userMapping(user)
        let unpacked = work + "/unpacked"
        #expect(try runHost("/bin/cp", ["-a", baseDir, unpacked]).status == 0)
        _ = try LayerExtractor(options: LayerExtractionOptions(ownership: .map(mapping)))
            .apply(LayerSource(path: work + "/layer.tar.gz"), to: unpacked)
        let mnt = work + "/merged"
        mkdir(mnt, 0o755)
        let m = try runHost(
            "/bin/mount",
            [
                "-t", "overlay", "overlay", "-o",
                "ro,lowerdir=\(kept):\(baseDir),redirect_dir=nofollow,metacopy=off,userxattr", mnt
            ])
        try #require(m.status == 0, "\(m.output)")
        defer { _ = try? runHost("/bin/umount", [mnt]) }
        let excluded = ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"]
        let ta = try TreeManifest.capture(root: mnt, options: .init(excludedPaths: excluded))
        let tb = try TreeManifest.capture(root: unpacked, options: .init(excludedPaths: excluded))
        let d = ta.diff(tb)
        #expect(d.isEmpty, "merged view vs unpacked layer:\n\(d.prefix(30).joined(separator: "\n"))")
        let listing = try runHost(
            "/bin/sh", ["-c", "tar -tvzf \(work)/layer.tar.gz --numeric-owner | awk '{print $2}' | sort -u"])
        #expect(
            listing.output.split(separator: "\n").allSatisfy {
                $0.split(separator: "/").allSatisfy { (Int($0) ?? 0) < 65536 }
            },
            "\(listing.output)")
        // Clean the kept upper as the user (its files belong to the user's subordinate ids).
        let (rs, ro) = try CLI.run(
            ["sandbox", "run", "--base", tarball, "--name", "rm", "--", "/bin/true"], user: user, env: env)
        #expect(rs == 0, "\(ro)")
    }
}

/// The rootless mapping of `user`: its uid as 0, its first /etc/subuid range as 1…65536.
func userMapping(_ user: String) throws -> IDMapping {
    let pw = getpwnam(user)!.pointee
    func range(_ file: String) throws -> UInt32 {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(user + ":") })
        return UInt32(line.split(separator: ":")[1])!
    }
    return IDMapping(
        uids: [
            .init(containerID: 0, hostID: pw.pw_uid, count: 1),
            .init(containerID: 1, hostID: try range("/etc/subuid"), count: 65536)
        ],
        gids: [
            .init(containerID: 0, hostID: pw.pw_gid, count: 1),
            .init(containerID: 1, hostID: try range("/etc/subgid"), count: 65536)
        ])
}

/// Host processes whose command line contains `s`.
func processes(matching s: String) -> [String] {
    var out: [String] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(name) != nil {
        guard let d = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
        let cmd = String(decoding: d.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        if cmd.contains(s) && !cmd.contains("swift-test") { out.append("\(name): \(cmd)") }
    }
    return out
}

@Suite("debian:<suite> base")
struct DebianBaseTests {
    @Test("--base debian:bookworm assembles a minbase with mmdebstrap once and caches it")
    func debianBase() throws {
        let state = Fixture.cacheDir + "/state-debian"
        let env = ["OCIFORGE_STATE_DIR": state]
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", "debian:bookworm", "--name", "deb", "--",
                "/bin/sh", "-c", "cat /etc/debian_version; dpkg-query -W -f '${Package}\\n' | wc -l"
            ], env: env)
        #expect(s == 0, "\(out)")
        let lines = phaseLines(out, "deb")
        #expect(lines.first?.hasPrefix("12.") == true, "\(out)")
        #expect((Int(lines.last ?? "") ?? 0) > 50)
        func tars() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: state + "/bases").filter {
                $0.hasPrefix("debian-bookworm-") && $0.hasSuffix(".tar")
            }.sorted()
        }
        let before = try tars()
        #expect(!before.isEmpty)
        // Second use (same mirror publication): no mmdebstrap, no new tarball.
        let (s2, out2) = try CLI.run(
            ["sandbox", "run", "--base", "debian:bookworm", "--name", "deb", "--", "/bin/true"], env: env)
        #expect(s2 == 0)
        #expect(!out2.contains("mmdebstrap"), "\(out2)")
        #expect(try tars() == before)
    }

    @Test("rootless --base debian:bookworm: mmdebstrap in unshare mode with the user's range, ownership kept")
    func rootlessDebianBase() throws {
        let user = try CLI.rootlessUser()
        let state = try CLI.stateDir(for: user, tag: "debian")
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", "debian:bookworm", "--name", "deb", "--",
                "/bin/sh", "-c", "cat /etc/debian_version; stat -c '%u %g' /etc/shadow"
            ],
            user: user, env: ["OCIFORGE_STATE_DIR": state])
        #expect(s == 0, "\(out)")
        let lines = phaseLines(out, "deb")
        #expect(lines.first?.hasPrefix("12.") == true, "\(out)")
        #expect(lines.last == "0 42", "shadow must keep its group: \(out)")
    }
}
