import Foundation
import OCIWriter
import Testing

@testable import BuildEngine
@testable import Sandbox

@Suite("Sandbox argument parsing and keys")
struct ParsingTests {
    @Test("cache mounts: NAME:/absolute/path only")
    func caches() throws {
        #expect(try CacheMount.parse("apt:/var/cache/apt") == CacheMount(name: "apt", target: "/var/cache/apt"))
        for bad in ["apt", "apt:relative", ":/x", "a/b:/x", "x:/a/../b", "x:/", ".x:/a"] {
            #expect(throws: SandboxError.self, "\(bad)") { try CacheMount.parse(bad) }
        }
    }

    @Test("secrets: ID=env:VAR and ID=file:PATH, with errors naming the id")
    func secrets() throws {
        #expect(try Secret.parse("tok=env:T", environment: ["T": "v"]) == Secret(id: "tok", value: "v"))
        let f = "/tmp/ociforge-secret-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: f, contents: Data("filevalue".utf8))
        defer { unlink(f) }
        #expect(try Secret.parse("k=file:\(f)").value == "filevalue")
        do {
            _ = try Secret.parse("tok=env:MISSING_VAR_X", environment: [:])
            Issue.record("accepted")
        } catch let e as SandboxError {
            #expect(e.message.contains("tok") && e.message.contains("MISSING_VAR_X"))
        }
        // Docker's --secret syntax.
        #expect(try Secret.parse("id=tok,env=T", environment: ["T": "v"]) == Secret(id: "tok", value: "v"))
        #expect(try Secret.parse("env=T", environment: ["T": "v"]) == Secret(id: "T", value: "v"))
        #expect(try Secret.parse("id=T", environment: ["T": "v"]) == Secret(id: "T", value: "v"))
        #expect(try Secret.parse("id=tok,type=env,src=T", environment: ["T": "v"]) == Secret(id: "tok", value: "v"))
        #expect(try Secret.parse("id=k,src=\(f)", environment: [:]) == Secret(id: "k", value: "filevalue"))
        #expect(try Secret.parse("type=file,source=\(f)", environment: [:]).value == "filevalue")
        #expect(throws: SandboxError.self) { try Secret.parse("id=tok,type=ssh,src=x", environment: [:]) }
        for bad in ["noequals", "a/b=env:X", "x=plain", "=env:X"] {
            #expect(throws: SandboxError.self, "\(bad)") { try Secret.parse(bad, environment: ["X": "1"]) }
        }
    }

    @Test(
        "base sources: debian:<suite>, directory, tarball; the Debian cache key covers suite/variant/packages/mirror/epoch"
    )
    func bases() throws {
        #expect(
            try BaseSource.parse("debian:bookworm")
                == .debian(suite: "bookworm", variant: "minbase", packages: [], mirror: nil))
        #expect(throws: BuildEngineError.self) { try BaseSource.parse("debian:") }
        #expect(throws: BuildEngineError.self) { try BaseSource.parse("debian:../x") }
        #expect(throws: BuildEngineError.self) { try BaseSource.parse("/nonexistent/base") }
        #expect(try BaseSource.parse("/tmp") == .directory("/tmp"))
        let k = BaseStore.debianKey(
            suite: "bookworm", variant: "minbase", packages: [], mirror: nil, sourceDateEpoch: nil)
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "trixie", variant: "minbase", packages: [], mirror: nil, sourceDateEpoch: nil))
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "bookworm", variant: "minbase", packages: ["python3"], mirror: nil, sourceDateEpoch: nil))
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "bookworm", variant: "minbase", packages: [], mirror: "http://m/debian", sourceDateEpoch: nil
                ))
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "bookworm", variant: "minbase", packages: [], mirror: nil, sourceDateEpoch: "1700000000"))
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "bookworm", variant: "minbase", packages: [], mirror: nil, sourceDateEpoch: nil,
                    mirrorState: "Sat, 10 May 2025 09:00:00 UTC"))
        // A foreign architecture's base has a key of its own; the host's keys are those of single-platform builds.
        #expect(
            k
                != BaseStore.debianKey(
                    suite: "bookworm", variant: "minbase", packages: [], mirror: nil, sourceDateEpoch: nil,
                    architecture: "arm64"))
        let state = StateDirectory(path: "/nonexistent-state")
        let identity = try SandboxIdentity.detect()
        #expect(BaseStore(state: state, identity: identity, platform: Platform.host).platform == nil)
        let arm64 = BaseStore(state: state, identity: identity, platform: Platform(architecture: "arm64", os: "linux"))
        #expect(try arm64.debianArchitecture() == "arm64")
        let armhf = BaseStore(
            state: state, identity: identity, platform: Platform(architecture: "arm", os: "linux", variant: "v7"))
        #expect(try armhf.debianArchitecture() == "armhf")
        // The mirror state comes from the suite's InRelease (the machine reaches deb.debian.org).
        let date = BaseStore.inReleaseDate(mirror: "http://deb.debian.org/debian", suite: "bookworm")
        #expect(date?.hasSuffix("UTC") == true, "\(String(describing: date))")
        #expect(BaseStore.inReleaseDate(mirror: "http://127.0.0.1:9/debian", suite: "bookworm") == nil)
        #expect(
            BaseStore.debianKey(suite: "b", variant: "v", packages: ["x", "y"], mirror: nil, sourceDateEpoch: nil)
                == BaseStore.debianKey(
                    suite: "b", variant: "v", packages: ["y", "x"], mirror: nil, sourceDateEpoch: nil))
    }

    @Test("the launch spec wire format: length prefix and key/value records")
    func specWire() {
        var s = LaunchSpec(
            mapMode: .direct, uidMap: [.init(containerID: 0, hostID: 1_000_000_000, count: 65536)],
            gidMap: [.init(containerID: 0, hostID: 1_000_000_000, count: 65536)], arguments: ["/bin/echo", "a b"])
        s.secrets = [("tok", "v")]
        let b = s.serialized()
        let n = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        #expect(n == b.count - 4)
        let fields = b[4...].split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        #expect(fields.contains("uidmap") && fields.contains("0 1000000000 65536"))
        #expect(fields.contains("arg") && fields.contains("a b"))
        #expect(fields.contains("secret") && fields.contains("tok\nv"))
    }

    @Test("root identity: a dedicated range, so uid 0 in the build is not host root")
    func rootIdentity() throws {
        let id = try SandboxIdentity.detect()
        #expect(id.kind == .rootRange)
        #expect(id.uidMap.allSatisfy { $0.hostID != 0 })
        #expect(id.idMapping.containerUID(forHost: id.uidMap[0].hostID) == 0)
        #expect(id.idMapping.containerUID(forHost: 0) == nil)
    }
}

@Suite("Sandbox modes")
struct ModeTests {
    @Test("--network none: only a loopback interface; the host network is shared by default")
    func network() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        var p = PhaseSpec(
            name: "net", command: ["/bin/sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"])
        p.network = .none
        let out = Fixture.Output()
        try sb.run(p, base: base, output: out.sink).discard()
        #expect(out.lines == ["lo"])
        p.network = .host
        let out2 = Fixture.Output()
        try sb.run(p, base: base, output: out2.sink).discard()
        #expect(out2.lines.count > 1)
    }

    @Test("a phase run as a non-root uid has no capabilities and cannot regain them (no_new_privs)")
    func nonRootUser() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        var p = PhaseSpec(
            name: "user",
            command: [
                "/bin/sh", "-c",
                "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status; su -c true root 2>/dev/null || echo su-failed"
            ])
        p.uid = 1000
        p.gid = 1000
        let out = Fixture.Output()
        try sb.run(p, base: base, output: out.sink).discard()
        #expect(out.lines.prefix(2) == ["1000", "1000"])
        #expect(out.lines.contains { $0.hasPrefix("CapEff:") && $0.hasSuffix("0000000000000000") })
        #expect(out.lines.contains { $0.hasPrefix("CapPrm:") && $0.hasSuffix("0000000000000000") })
        #expect(out.lines.contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") })
        #expect(out.lines.last == "su-failed")
    }

    @Test("rootless without a subuid range: degraded single-uid mode with an explicit warning")
    func singleUID() throws {
        let user = "ocfnosubuid"
        if getpwnam(user) == nil {
            _ = try runHost("/usr/sbin/useradd", ["--create-home", "--shell", "/bin/sh", user])
        }
        // Remove any range useradd may have added.
        for f in ["/etc/subuid", "/etc/subgid"] {
            let text = (try? String(contentsOfFile: f, encoding: .utf8)) ?? ""
            let kept = text.split(separator: "\n").filter { !$0.hasPrefix(user + ":") }.map { $0 + "\n" }.joined()
            if kept != text { try kept.write(toFile: f, atomically: false, encoding: .utf8) }
        }
        let tarball = try Fixture.debianTarball()
        let state = try CLI.stateDir(for: user, tag: "single")
        let (s, out) = try CLI.run(
            [
                "sandbox", "run", "--base", tarball, "--name", "one", "--",
                "/bin/sh", "-c", "id -u; cat /proc/self/uid_map | wc -l; chown 42 /tmp || echo chown-failed"
            ],
            user: user, env: ["OCIFORGE_STATE_DIR": state])
        #expect(s == 0, "\(out)")
        #expect(out.contains("degraded single-uid mode"))
        // stdout and stderr arrive through separate pipes: chown's own message may come before or after ours.
        let lines = phaseLines(out, "one").filter { !$0.hasPrefix("chown:") }
        #expect(lines == ["0", "1", "chown-failed"], "\(out)")
    }
}
