import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Many machines, one cache (docs/cache.md): machine A builds with `--cache-to` a loopback docker-registry
/// repository, machine B — its own empty state directory and layer cache — builds with `--cache-from` and runs
/// no command, producing the same manifest digest; a source-only change re-runs only what sees the source.
/// Unusable entries (corrupt, missing blobs) and a registry refusing writes: the build succeeds and says so.
@Suite("Registry cache", .serialized)
struct RegistryCacheTests {
    static let epoch = BuildEndToEndTests.epoch

    /// A machine: its state directory (B's starts empty) and layer cache.
    struct Machine {
        var state: String
        var cache: String

        /// `ociforge build <app> --json` on this machine; the report and stderr.
        func build(
            _ app: String, output: String, extra: [String], environment: [String: String] = [:],
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> BuildEndToEndTests.Build {
            var env = ["OCIFORGE_STATE_DIR": state, "SOURCE_DATE_EPOCH": RegistryCacheTests.epoch]
            for (k, v) in environment { env[k] = v }
            let r = try Harness.run(
                [
                    Harness.ociforge, "build", app, "--output", "oci-layout:" + output, "--cache-dir", cache,
                    "--json", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"
                ] + extra, environment: env, timeout: 1800)
            guard r.status == 0,
                let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            else {
                Issue.record("build failed (\(r.status)):\n\(r.stderr.suffix(4000))", sourceLocation: sourceLocation)
                throw HarnessError("build failed")
            }
            return BuildEndToEndTests.Build(status: r.status, report: report, stderr: r.stderr)
        }
    }

    static func machine(_ dir: TempDir, _ name: String) throws -> Machine {
        let m = Machine(state: dir.path + "/\(name)-state", cache: dir.path + "/\(name)-cache")
        try FileManager.default.createDirectory(atPath: m.state, withIntermediateDirectories: true)
        chmod(m.state, 0o755)
        return m
    }

    /// Hard-links the Debian base tarballs of `source`'s state into `state` (as scripts/repro-check does).
    static func linkBases(from source: String, to state: String) throws {
        try FileManager.default.createDirectory(atPath: state + "/bases", withIntermediateDirectories: true)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: source + "/bases")) ?? []
        for name in names where name.hasPrefix("debian-") && name.hasSuffix(".tar") {
            try FileManager.default.linkItem(atPath: source + "/bases/" + name, toPath: state + "/bases/" + name)
        }
    }

    /// The report's warnings (`{code, message, step}` objects), as their messages.
    static func warnings(_ b: BuildEndToEndTests.Build) -> [String] {
        (b.report["warnings"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
    }

    /// Phases of `b` with their status (`runtime/app` → `ran`).
    static func statuses(_ b: BuildEndToEndTests.Build) -> [String: String] {
        var s: [String: String] = [:]
        for t in b.report["timings"] as? [[String: Any]] ?? [] {
            s["\(t["stage"] ?? "")/\(t["phase"] ?? "")"] = t["status"] as? String
        }
        return s
    }

    @Test("plan build (Python + PyPI): B with an empty state builds from A's registry cache, runs nothing, same digest")
    func planBuildAcrossMachines() throws {
        let dir = try TempDir.make("regcache-plan")
        defer { dir.remove() }
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let app = try BuildEndToEndTests.app("planner/python-flask/app", in: dir)
        let repo = "\(registry.host)/team/python-cache"
        // A: its own state directory (no apt lock shared with other builds) holding the Debian bases the e2e tests'
        // shared state assembled (hard links: a machine whose base was built before), empty download caches.
        let a = try Self.machine(dir, "a")
        try Self.linkBases(from: BuildEndToEndTests.stateDir, to: a.state)
        let mounts = ["--cache-mounts", "apt-cache"]
        let cold = try a.build(app, output: dir.path + "/a-oci:v1", extra: ["--cache-to", repo] + mounts)
        #expect(cold.executed == ["build/setup", "build/install", "runtime/packages", "runtime/user"])
        #expect(cold.stderr.contains("cache mount apt-cache: exported"), "\(cold.stderr.suffix(2000))")
        #expect(Self.warnings(cold).isEmpty, "\(Self.warnings(cold))")

        let b = try Self.machine(dir, "b")
        let warm = try b.build(app, output: dir.path + "/b-oci:v1", extra: ["--cache-from", repo] + mounts)
        #expect(warm.stderr.contains("cache mount apt-cache: imported"), "\(warm.stderr.suffix(2000))")
        #expect(warm.executed.isEmpty, "B ran \(warm.executed)")
        #expect(warm.cached == cold.executed)
        #expect(warm.manifest == cold.manifest)
        #expect(!warm.stderr.contains("mmdebstrap"), "B assembled a base:\n\(warm.stderr.suffix(3000))")
        #expect(warm.stderr.contains("from the registry cache"))

        try "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'changed'\n"
            .write(toFile: app + "/main.py", atomically: true, encoding: .utf8)
        let edited = try b.build(app, output: dir.path + "/b-oci:v2", extra: ["--cache-from", repo])
        #expect(edited.executed.isEmpty, "a source-only change re-runs no command: \(edited.executed)")
        #expect(Self.statuses(edited)["runtime/app"] == "ran", "\(Self.statuses(edited))")
        #expect(Self.statuses(edited)["build/install"] == "cached")
        // Copying the app needs no base: the bases B took from the registry cache stay packed.
        #expect(!edited.stderr.contains("unpacking the base"), "\(edited.stderr.suffix(2000))")
        #expect(edited.manifest != cold.manifest)
        #expect(try BuildEndToEndTests.httpGet(dir.path + "/b-oci", tag: "v2") == "changed")

        // A lockfile change built with --no-cache (every step runs): B's apt phases install from A's apt archives
        // (imported above) and download nothing. (pip's reuse is shown by pipCacheAcrossMachines: through this
        // machine's egress proxy PyPI's responses carry no Cache-Control, so pip's HTTP cache stays empty here.)
        let requirements = try String(contentsOfFile: app + "/requirements.txt", encoding: .utf8)
        try (requirements + "# pinned again\n").write(
            toFile: app + "/requirements.txt", atomically: true, encoding: .utf8)
        let locked = try b.build(app, output: dir.path + "/b-oci:v3", extra: ["--no-cache"] + mounts)
        #expect(locked.executed == cold.executed, "\(locked.executed)")
        let apt = locked.stderr.split(separator: "\n").filter { $0.contains("[build/setup]") }
        #expect(apt.contains { $0.contains("Need to get 0 B") }, "\(apt.joined(separator: "\n"))")
        #expect(!apt.contains { $0.contains("] Get:") }, "\(apt.joined(separator: "\n"))")
    }
}

extension RegistryCacheTests {
    /// The Python fixture's wheels (Flask, gunicorn and their dependencies for CPython 3.13), downloaded from PyPI
    /// once per machine into the test cache.
    static func fixtureWheels() throws -> String {
        let dir = DebianBase.cacheDir + "/python-flask-wheels-cp313"
        return try Harness.withFileLock(DebianBase.cacheDir + "/python-flask-wheels.lock") {
            if FileManager.default.fileExists(atPath: dir + ".complete") { return dir }
            try? FileManager.default.removeItem(atPath: dir)
            let venv = dir + ".venv"
            try Harness.ok(["python3", "-m", "venv", "--clear", venv])
            try Harness.ok(
                [
                    venv + "/bin/pip", "download", "--only-binary=:all:", "--python-version", "3.13",
                    "--implementation",
                    "cp", "--platform", "manylinux_2_17_x86_64", "-d", dir, "-r",
                    Harness.fixture("planner/python-flask/app/requirements.txt")
                ], environment: ["PIP_CERT": "/etc/ssl/certs/ca-certificates.crt", "PATH": "/usr/bin:/bin"])
            try? FileManager.default.removeItem(atPath: venv)
            FileManager.default.createFile(atPath: dir + ".complete", contents: nil)
            return dir
        }
    }

    @Test("pip cache mount across machines: after a lockfile change B's pip install uses A's wheels, no download")
    func pipCacheAcrossMachines() throws {
        let dir = try TempDir.make("regcache-pip")
        defer { dir.remove() }
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        // PyPI's files served on loopback with PyPI's own caching headers (the proxy here strips them).
        let port = BuildEndToEndTests.freePort(), log = dir.path + "/index.log"
        let index = Process()
        index.executableURL = URL(fileURLWithPath: Harness.repoRoot + "/scripts/pypi-cache-index")
        index.arguments = [try Self.fixtureWheels(), String(port), log]
        index.standardOutput = FileHandle.nullDevice
        index.standardError = FileHandle.nullDevice
        try index.run()
        defer {  // SIGKILL: the test process's blocked signals (SIGTERM among them) are inherited
            kill(index.processIdentifier, SIGKILL)
            index.waitUntilExit()
        }
        for _ in 0..<100
        where (try? Harness.run(["curl", "-sf", "http://127.0.0.1:\(port)/simple/flask/"]))?.status != 0 {
            usleep(100_000)
        }
        let app = try BuildEndToEndTests.app("planner/python-flask/app", in: dir)
        let repo = "\(registry.host)/team/pip-cache"
        let pip = [
            "-e", "PIP_INDEX_URL=http://127.0.0.1:\(port)/simple/", "-e", "PIP_TRUSTED_HOST=127.0.0.1:\(port)",
            "--cache-mounts", "root-cache-pip"
        ]
        let fileRequests = {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter {
                $0.hasPrefix("/files/")
            }.count
        }

        let a = try Self.machine(dir, "a")
        try Self.linkBases(from: BuildEndToEndTests.stateDir, to: a.state)
        let cold = try a.build(app, output: dir.path + "/a-oci:v1", extra: ["--cache-to", repo] + pip)
        let downloaded = fileRequests()
        #expect(downloaded == 9, "A downloads every wheel once: \(downloaded)")
        #expect(cold.stderr.contains("cache mount root-cache-pip: exported"), "\(cold.stderr.suffix(2000))")

        // B: empty state, a lockfile change, so its install step runs, on A's imported pip cache.
        let requirements = try String(contentsOfFile: app + "/requirements.txt", encoding: .utf8)
        try (requirements + "# pinned again\n").write(
            toFile: app + "/requirements.txt", atomically: true, encoding: .utf8)
        let b = try Self.machine(dir, "b")
        let warm = try b.build(app, output: dir.path + "/b-oci:v1", extra: ["--cache-from", repo] + pip)
        #expect(warm.stderr.contains("cache mount root-cache-pip: imported"), "\(warm.stderr.suffix(2000))")
        #expect(Self.statuses(warm)["build/install"] == "ran", "\(Self.statuses(warm))")
        let install = warm.stderr.split(separator: "\n").filter { $0.contains("[build/install]") }
        #expect(install.contains { $0.contains("Using cached") }, "\(install.joined(separator: "\n"))")
        #expect(!install.contains { $0.contains("Downloading") }, "\(install.joined(separator: "\n"))")
        #expect(fileRequests() == downloaded, "B downloaded no wheel")
        #expect(try BuildEndToEndTests.httpGet(dir.path + "/b-oci", tag: "v1") == "hi")
    }

    /// A Dockerfile app (built by `ociforge build`, Dockerfile strategy) on the minbase image in `registry`:
    /// a dependency step that does not see the source, then the source and a step that does.
    static func dockerfileApp(in dir: TempDir, base: String) throws -> String {
        try writeApp(
            in: dir, "df-app",
            files: [
                "Dockerfile": """
                FROM \(base)
                COPY deps.txt /app/deps.txt
                RUN mkdir -p /opt/deps && cp /app/deps.txt /opt/deps/installed && rm -f /var/lib/dpkg/status-old
                COPY main.txt /app/main.txt
                RUN tr a-z A-Z < /app/main.txt > /app/built.txt && test -f /opt/deps/installed && test ! -e /var/lib/dpkg/status-old
                CMD ["cat", "/app/built.txt"]
                """,
                "deps.txt": "flask==3\n", "main.txt": "hello\n"
            ])
    }

    /// `dir/name` with `files` (name → content), readable by the sandbox's root.
    static func writeApp(in dir: TempDir, _ name: String, files: [String: String]) throws -> String {
        let app = dir.path + "/" + name
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        chmod(dir.path, 0o755)
        for (file, content) in files {
            try content.write(toFile: app + "/" + file, atomically: true, encoding: .utf8)
        }
        return app
    }

    /// The minbase image pushed to `host` (anonymous pulls from there; `env` carries push credentials).
    static func pushBase(to host: String, env: [String: String]) throws -> String {
        let image = "\(host)/base/minbase:1"
        try Harness.ok(
            [Harness.ociforge, "image", "push", "oci-layout:\(try DockerfileExecTests.baseLayout()):base", image],
            environment: env.merging(DockerfileExecTests.env()) { a, _ in a })
        return image
    }

    @Test(
        "Dockerfile build through a token-auth registry: B pulls anonymously, runs nothing, same digest; a changed source re-runs one step"
    )
    func dockerfileAcrossMachines() throws {
        let dir = try TempDir.make("regcache-df")
        defer { dir.remove() }
        let registry = try TokenRegistry(dir: dir.path + "/registry", user: "ci", password: "s3cret")
        defer { registry.stop() }
        let push = ["REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "s3cret"]
        let app = try Self.dockerfileApp(in: dir, base: try Self.pushBase(to: registry.host, env: push))
        let repo = "\(registry.host)/team/df-cache"
        let a = try Self.machine(dir, "a")
        let cold = try a.build(app, output: dir.path + "/a-oci:v1", extra: ["--cache-to", repo], environment: push)
        #expect(cold.executed.count == 2, "\(cold.executed)")
        #expect(Self.warnings(cold).isEmpty, "\(Self.warnings(cold))")

        let b = try Self.machine(dir, "b")
        let warm = try b.build(app, output: dir.path + "/b-oci:v1", extra: ["--cache-from", repo])
        #expect(warm.executed.isEmpty, "B ran \(warm.executed)")
        #expect(warm.cached == cold.executed)
        #expect(warm.manifest == cold.manifest)

        try "changed\n".write(toFile: app + "/main.txt", atomically: true, encoding: .utf8)
        let edited = try b.build(app, output: dir.path + "/b-oci:v2", extra: ["--cache-from", repo])
        #expect(edited.executed == [cold.executed[1]], "only the step that sees the source: \(edited.executed)")
        #expect(edited.cached == [cold.executed[0]])
        let out = try Harness.ok([
            "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm", "oci:\(dir.path)/b-oci:v2"
        ])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "CHANGED")
    }

    /// The layer blobs of the cache entries in `repository` of the registry storing its data in `data`.
    static func entryLayerBlobs(host: String, repository: String, data: String) throws -> [String] {
        let tags = try Harness.ok(["curl", "-sf", "http://\(host)/v2/\(repository)/tags/list"])
        let names = (try JSONSerialization.jsonObject(with: Data(tags.utf8)) as? [String: Any])?["tags"] as? [String]
        var blobs: [String] = []
        for tag in (names ?? []).sorted() {
            let m = try Harness.ok([
                "curl", "-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                "http://\(host)/v2/\(repository)/manifests/\(tag)"
            ])
            let layers = (try JSONSerialization.jsonObject(with: Data(m.utf8)) as? [String: Any])?["layers"]
            guard let l = layers as? [[String: Any]], l.count == 2, let d = l[1]["digest"] as? String else { continue }
            let hex = String(d.dropFirst(7))
            blobs.append("\(data)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
        }
        return blobs
    }

    @Test("corrupt and missing cache blobs are misses with a warning; a registry refusing writes is a warning")
    func unusableEntriesAndRefusedWrites() throws {
        let dir = try TempDir.make("regcache-faults")
        defer { dir.remove() }
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let app = try Self.dockerfileApp(in: dir, base: try Self.pushBase(to: registry.host, env: [:]))
        let repo = "\(registry.host)/team/df-cache"
        let a = try Self.machine(dir, "a")
        let cold = try a.build(app, output: dir.path + "/a-oci:v1", extra: ["--cache-to", repo])
        #expect(cold.executed.count == 2)

        // One entry's layer corrupted in the registry's storage, every other one's removed.
        let blobs = try Self.entryLayerBlobs(
            host: registry.host, repository: "team/df-cache", data: dir.path + "/registry/data")
        #expect(blobs.count >= 2, "\(blobs)")
        for (i, blob) in blobs.enumerated() {
            if i == 0 {
                var bytes = try Data(contentsOf: URL(fileURLWithPath: blob))
                bytes[bytes.count / 2] ^= 0xff
                try bytes.write(to: URL(fileURLWithPath: blob))
            } else {
                try FileManager.default.removeItem(atPath: blob)
            }
        }
        let b = try Self.machine(dir, "b")
        let rebuilt = try b.build(app, output: dir.path + "/b-oci:v1", extra: ["--cache-from", repo])
        #expect(rebuilt.manifest == cold.manifest, "the steps were built instead, to the same image")
        #expect(rebuilt.executed == cold.executed)
        let said = Self.warnings(rebuilt).joined(separator: "\n")
        #expect(said.contains("is unusable") && said.contains("the step is built instead"), "\(said)")
        #expect(rebuilt.stderr.contains("registry cache"), "the notices are on stderr")

        // A registry in read-only mode: the build succeeds, the report and stderr say the cache was not written.
        let readOnly = try LocalRegistry(dir: dir.path + "/registry-ro", readOnly: true)
        defer { readOnly.stop() }
        let c = try Self.machine(dir, "c")
        let refused = try c.build(
            app, output: dir.path + "/c-oci:v1", extra: ["--cache-to", "\(readOnly.host)/team/df-cache"])
        #expect(refused.manifest == cold.manifest)
        let refusal = Self.warnings(refused).joined(separator: "\n")
        #expect(refusal.contains("was not written"), "\(refusal)")
        #expect(refused.stderr.contains("was not written"))
    }
}
