import Foundation
import Testing

@testable import BuildEngine

#if canImport(Glibc)
    import Glibc
#endif

/// `AptPhaseScript`'s locking, executed: the generated command runs under the host's `/bin/sh` and real `flock(1)`
/// with stand-in `apt-get` and `dpkg` that log when each operation starts and ends, the apt-cache path pointed at a
/// scratch directory.
@Suite struct AptPhaseScriptTests {
    /// A scratch apt cache, a bin directory with the stand-ins, and the log they append to.
    struct Bench {
        let root: Scratch
        var cache: String { root.path + "/cache" }
        var log: String { root.path + "/log" }

        init() throws {
            root = try Scratch("apt-locks")
            try root.write("cache/.keep", "")
            // apt-get: "<time> <phase> start|end <operation>"; the install sleeps long enough to see overlap.
            try root.write(
                "bin/apt-get",
                """
                #!/bin/sh
                step() {
                  echo "$(date +%s.%N) $PHASE start $1" >> \(root.path)/log
                  sleep $2
                  echo "$(date +%s.%N) $PHASE end $1" >> \(root.path)/log
                }
                case "$*" in
                  *" update"*) step update 0.4 ;;
                  *"DPkg::Pre-Invoke::=flock -u 9"*" install "*)
                    step download 0.2; flock -u 9; step install 1.5 ;;  # apt runs the hook before dpkg
                  *) exit 3 ;;
                esac

                """, mode: 0o755)
            try root.write(
                "bin/dpkg",
                """
                #!/bin/sh
                case "$1" in --print-architecture) echo amd64 ;; esac
                exit 0

                """, mode: 0o755)
        }

        /// Starts the install of `hello` as phase `phase` in build session `session`; returns the process.
        func start(phase: String, session: String) throws -> Process {
            let command = AptPhaseScript(packages: ["hello"]).installCommand
                .replacingOccurrences(of: "/var/cache/apt", with: cache)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            p.environment = [
                "PATH": root.path + "/bin:/usr/bin:/bin", "PHASE": phase,
                AptPhaseScript.sessionVariable: session
            ]
            try p.run()
            return p
        }

        /// (time, phase, start/end, operation) entries of the log.
        func entries() throws -> [(t: Double, phase: String, edge: String, op: String)] {
            try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
                let f = $0.split(separator: " ").map(String.init)
                return (Double(f[0])!, f[1], f[2], f[3])
            }
        }

        func time(_ phase: String, _ edge: String, _ op: String) throws -> Double? {
            try entries().first { $0.phase == phase && $0.edge == edge && $0.op == op }?.t
        }
    }

    static func finish(_ ps: [Process]) -> [Int32] {
        ps.map {
            $0.waitUntilExit()
            return $0.terminationStatus
        }
    }

    @Test("one build's two apt phases: the lists are refreshed once and the two installs run at once")
    func sameSessionUpdatesOnceAndInstallsTogether() throws {
        let b = try Bench()
        defer { b.root.remove() }
        let ps = [try b.start(phase: "A", session: "s1"), try b.start(phase: "B", session: "s1")]
        #expect(Self.finish(ps) == [0, 0])
        let log = try b.entries()
        #expect(log.filter { $0.op == "update" && $0.edge == "start" }.count == 1, "\(log)")
        #expect(log.filter { $0.op == "install" && $0.edge == "end" }.count == 2)
        // Overlap: each install starts before the other ends.
        let a0 = try #require(try b.time("A", "start", "install")), a1 = try #require(try b.time("A", "end", "install"))
        let b0 = try #require(try b.time("B", "start", "install")), b1 = try #require(try b.time("B", "end", "install"))
        #expect(a0 < b1 && b0 < a1, "\(log)")
        // Downloads never overlap.
        let d = log.filter { $0.op == "download" }.sorted { $0.t < $1.t }.map(\.edge)
        #expect(d == ["start", "end", "start", "end"], "\(log)")
    }

    @Test("another build's update waits until no install reads the lists, and its install sees fresh lists")
    func otherSessionUpdatesOnlyBetweenInstalls() throws {
        let b = try Bench()
        defer { b.root.remove() }
        let first = try b.start(phase: "A", session: "s1")
        Thread.sleep(forTimeInterval: 0.2)
        let second = try b.start(phase: "B", session: "s2")
        #expect(Self.finish([first, second]) == [0, 0])
        let log = try b.entries()
        #expect(log.filter { $0.op == "update" && $0.edge == "start" }.map(\.phase) == ["A", "B"], "\(log)")
        // B's update started after A's install ended (A read the lists throughout).
        let aEnd = try #require(try b.time("A", "end", "install")),
            bUpdate = try #require(try b.time("B", "start", "update"))
        #expect(bUpdate >= aEnd, "\(log)")
    }

    @Test("a phase locked from the host (a root without flock) excludes the script's phases")
    func hostLockExcludesScriptPhases() throws {
        let b = try Bench()
        defer { b.root.remove() }
        let lock = AptPhaseScript.hostListsLock(cachesDirectory: b.root.path + "/host-caches")
        #expect(lock.hasSuffix("/apt-cache/ociforge-lists.lock"))
        try FileManager.default.createDirectory(
            atPath: b.root.path + "/host-caches", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: b.root.path + "/host-caches/apt-cache", withDestinationPath: b.cache)
        var started: Process?
        var released = 0.0
        try ImageBuilder.withAptLock(lock) {
            started = try b.start(phase: "A", session: "s1")
            Thread.sleep(forTimeInterval: 1)
            released = Date().timeIntervalSince1970
        }
        #expect(Self.finish([try #require(started)]) == [0])
        let log = try b.entries()
        let first = try #require(log.first)
        #expect(first.t >= released - 0.05, "apt ran while the host held the lock: \(log)")
        // The host's lock file is the one the script opened.
        #expect(FileManager.default.fileExists(atPath: b.cache + "/ociforge-lists.lock"))
    }

    @Test("the cache key's script is the flock one; a root without flock runs the plain command")
    func plainCommandWithoutFlock() throws {
        let locked = ImageBuilder.script(apt: ["hello"], commands: [], workingDirectory: "/app", secrets: [])
        #expect(
            locked.contains("flock -x 7")
                && locked.contains(
                    "-o Debug::NoLocking=1 -o APT::Keep-Fds::=9 -o 'DPkg::Pre-Invoke::=flock -u 9' install 'hello'")
        )
        // Every apt phase touches /tmp (apt-get update does, in one phase of a build only): same layer either way.
        #expect(locked.contains(": >/tmp/.ociforge-apt && rm -f /tmp/.ociforge-apt"))
        let plain = ImageBuilder.script(
            apt: ["hello"], commands: [], workingDirectory: "/app", secrets: [], aptLocksInside: false)
        #expect(
            !plain.contains("flock") && plain.contains("--force-unsafe-io install 'hello' && rm -rf /var/log/dpkg.log"))
        let s = try Scratch("flock")
        defer { s.remove() }
        try s.write("base/usr/bin/flock", "#!/bin/sh\n", mode: 0o755)
        try s.write("empty/usr/bin/.keep", "")
        #expect(AptPhaseScript.hasFlock(trees: [s.path + "/empty", s.path + "/base"]))
        try s.write("whiteout/usr/bin/flock", "", mode: 0o000)
        #expect(!AptPhaseScript.hasFlock(trees: [s.path + "/whiteout", s.path + "/base"]))
        #expect(!AptPhaseScript.hasFlock(trees: [s.path + "/empty"]))
    }
}
