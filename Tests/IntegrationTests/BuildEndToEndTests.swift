import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge build` end to end: fixtures built in the sandbox from Debian packages (and PyPI), run by podman and
/// checked by output or an HTTP request on loopback. The Debian base, the apt archives and the Go/pip caches live
/// in one shared state directory (built once per machine); each test has its own layer cache and output layout.
@Suite("Build end to end", .serialized)
struct BuildEndToEndTests {
    static let epoch = "1700000000"
    static let stateDir = "/var/tmp/ociforge-build-it-state"

    struct Build {
        var status: Int32
        var report: [String: Any]
        var stderr: String
        var manifest: String { report["manifestDigest"] as? String ?? "" }
        var executed: [String] { report["executed"] as? [String] ?? [] }
        var cached: [String] { report["cached"] as? [String] ?? [] }
        func int(_ k: String) -> Int64 { (report[k] as? NSNumber)?.int64Value ?? -1 }
    }

    /// A copy of a fixture app in a fresh directory (made searchable: the layer cache inside it holds overlay lowers
    /// for the sandbox's unprivileged root).
    static func app(_ fixture: String, in dir: TempDir, name: String = "app") throws -> String {
        chmod(dir.path, 0o755)
        let dst = dir.path + "/" + name
        try Harness.ok(["cp", "-r", Harness.fixture(fixture), dst])
        return dst
    }

    @discardableResult
    static func build(
        _ app: String, cache: String, output: String, extra: [String] = [], timeout: Double = 1200,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Build {
        let r = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output",
                output.hasPrefix("docker://") ? output : "oci-layout:" + output,
                "--cache-dir", cache,
                "--json", "--quiet", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"
            ] + extra,
            environment: ["OCIFORGE_STATE_DIR": stateDir, "SOURCE_DATE_EPOCH": epoch], timeout: timeout)
        var report: [String: Any] = [:]
        if r.status == 0 {
            guard let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
                throw HarnessError("build --json printed no JSON object:\n\(r)")
            }
            report = obj
            DigestLog.record(
                "build " + (output as NSString).lastPathComponent + " " + extra.joined(separator: " "),
                report["manifestDigest"] as? String ?? "")
        }
        return Build(status: r.status, report: report, stderr: r.stderr)
    }

    static func requireBuilt(
        _ app: String, cache: String, output: String, extra: [String] = [], timeout: Double = 1200,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Build {
        let b = try build(
            app, cache: cache, output: output, extra: extra, timeout: timeout, sourceLocation: sourceLocation)
        if b.status != 0 {
            Issue.record("build of \(app) failed:\n\(b.stderr.suffix(4000))", sourceLocation: sourceLocation)
            throw HarnessError("build failed")
        }
        return b
    }

    /// Builds `app` again from a clean layer cache into another layout and expects `first`'s manifest digest
    /// (same SOURCE_DATE_EPOCH; the shared state's download caches are not layer content). scripts/repro-check does
    /// the same from entirely clean state directories and explains any difference with diffoscope.
    static func expectReproducible(
        _ app: String, _ first: Build, in dir: TempDir, extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let again = try requireBuilt(
            app, cache: dir.path + "/cache-repro", output: dir.path + "/oci-repro:latest", extra: extra,
            sourceLocation: sourceLocation)
        #expect(
            again.manifest == first.manifest, "reproducible from a clean layer cache", sourceLocation: sourceLocation)
        #expect(!again.manifest.isEmpty, sourceLocation: sourceLocation)
    }

    static let podman = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]

    /// `podman run --rm` of the image, returning stdout.
    static func podmanRun(_ layout: String, tag: String, _ args: [String] = []) throws -> ProcessOutput {
        try Harness.run(podman + ["run", "--rm", "--network", "host", "oci:\(layout):\(tag)"] + args, timeout: 300)
    }

    /// Runs the image in the foreground (host network, `PORT` set), fetches `path` from loopback, then removes the
    /// container.
    static func httpGet(
        _ layout: String, tag: String, containerPort: Int? = nil, path: String = "/",
        curlArgs: [String] = []
    ) throws -> String {
        try httpGet(image: "oci:\(layout):\(tag)", containerPort: containerPort, path: path, curlArgs: curlArgs)
    }

    /// `httpGet` for any image reference podman takes; `podmanArgs` go before it (e.g. `--platform linux/arm64`).
    static func httpGet(
        image: String, podmanArgs: [String] = [], containerPort: Int? = nil, path: String = "/",
        curlArgs: [String] = []
    ) throws -> String {
        let port = containerPort ?? freePort()
        let name = "ociforge-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments =
            podman + ["run", "--rm", "--name", name, "--network", "host", "-e", "PORT=\(port)"] + podmanArgs + [image]
        let log = try TempDir.make("podman-log")
        defer { log.remove() }
        FileManager.default.createFile(atPath: log.path + "/out", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log.path + "/out"))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer {
            _ = try? Harness.run(podman + ["rm", "-f", "-t", "0", name])
            for _ in 0..<200 where p.isRunning { usleep(50_000) }
            if p.isRunning { p.terminate() }
            try? out.close()
        }
        var last = ""
        for _ in 0..<240 {
            let r = try Harness.run(
                ["curl", "-sS", "--max-time", "2"] + curlArgs + ["http://127.0.0.1:\(port)\(path)"], timeout: 10)
            if r.status == 0 { return r.stdout }
            last = r.stderr
            if !p.isRunning { break }
            usleep(250_000)
        }
        let logs = (try? String(contentsOfFile: log.path + "/out", encoding: .utf8)) ?? ""
        throw HarnessError("no HTTP answer on 127.0.0.1:\(port): \(last)\n\(logs.suffix(3000))")
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    // MARK: - Fixtures

    @Test("shell app: runs, reproducible from clean caches, failing build keeps the previous image")
    func shellApp() throws {
        let dir = try TempDir.make("build-shell")
        defer { dir.remove() }
        let app = try Self.app("planner/shell-script/app", in: dir)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache1", output: out + ":v1")
        #expect(try Self.podmanRun(out, tag: "v1").stdout == "hello\n")
        let b = try Self.requireBuilt(app, cache: dir.path + "/cache2", output: dir.path + "/oci2:v1")
        #expect(a.manifest == b.manifest, "same SOURCE_DATE_EPOCH, clean caches: the same manifest digest")
        #expect(!a.manifest.isEmpty)

        // Built to a loopback registry: the same manifest digest as the layout, and podman pulls and runs it.
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let port = registry.port
        let pushed = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "docker://127.0.0.1:\(port)/shell:v1",
                "--cache-dir", dir.path + "/cache1", "--json", "--quiet"
            ],
            environment: ["OCIFORGE_STATE_DIR": Self.stateDir, "SOURCE_DATE_EPOCH": Self.epoch])
        #expect(pushed.status == 0, "\(pushed)")
        let inspect = try Harness.ok(["skopeo", "inspect", "--tls-verify=false", "docker://127.0.0.1:\(port)/shell:v1"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        #expect(obj["Digest"] as? String == a.manifest)
        let pulled = try Harness.run(
            Self.podman + ["run", "--rm", "--tls-verify=false", "127.0.0.1:\(port)/shell:v1"], timeout: 300)
        #expect(pulled.stdout == "hello\n", "\(pulled)")

        // A failing phase: clear message, exit status, no image written, the previous one intact.
        let indexBefore = try String(contentsOfFile: out + "/index.json", encoding: .utf8)
        let f = try Self.build(
            app, cache: dir.path + "/cache1", output: out + ":v1",
            extra: ["--build-cmd", "echo about to fail; echo 'disk on fire' >&2; exit 7"])
        #expect(f.status != 0)
        #expect(f.stderr.contains("phase build/build failed"), "\(f.stderr.suffix(2000))")
        #expect(f.stderr.contains("exit status: 7"), "\(f.stderr.suffix(2000))")
        #expect(f.stderr.contains("disk on fire"), "last output lines are shown")
        #expect(f.stderr.contains("exit 7"), "the failing command is named")
        #expect(try String(contentsOfFile: out + "/index.json", encoding: .utf8) == indexBefore)
        #expect(try Self.podmanRun(out, tag: "v1").stdout == "hello\n")
    }

    @Test("static site: Caddy serves it on loopback; reproducible from clean caches")
    func staticSite() throws {
        let dir = try TempDir.make("build-static")
        defer { dir.remove() }
        let app = try Self.app("planner/staticfile/app", in: dir)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache1", output: out + ":latest")
        let config = a.report["annotations"] as? [String: String] ?? [:]
        #expect(config["org.opencontainers.image.base.name"] == "debian:trixie-slim")
        #expect(config["org.opencontainers.image.base.digest"]?.hasPrefix("sha256:") == true)
        #expect(config["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z")
        // The Caddyfile (a static asset) listens on $PORT, 8080 by default.
        let page = try Self.httpGet(out, tag: "latest", containerPort: 8080)
        #expect(page.contains("<h1>hi</h1>"))
        let b = try Self.requireBuilt(app, cache: dir.path + "/cache2", output: dir.path + "/oci2:latest")
        #expect(a.manifest == b.manifest)
    }

    @Test(
        "Go app: runs, slim image without the toolchain, cache: no-change and source-only rebuilds, corrupt entries rebuilt, reproducible"
    )
    func goApp() throws {
        let dir = try TempDir.make("build-go")
        defer { dir.remove() }
        let app = try Self.app("planner/go-mod/app", in: dir)
        let out = dir.path + "/oci"
        let cache = dir.path + "/cache"
        let a = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(a.executed == ["build/setup", "build/install", "build/build"])
        #expect(try Self.podmanRun(out, tag: "v1").stdout == "hello\n")

        // Slim: CGO_ENABLED=0 and the scratch runtime base: no Go toolchain (not even a shell), only the binary,
        // a minimal /etc and the build stage's CA bundle and zoneinfo; < 10 % of the build stage.
        for probe in [["/usr/lib/go-1.24/bin/go", "version"], ["/usr/bin/go", "version"], ["/bin/sh", "-c", "true"]] {
            let r = try Self.podmanRun(out, tag: "v1", probe)
            #expect(r.status != 0, "\(probe[0]) must not exist in the final image: \(r)")
        }
        let files = try Harness.run([
            "/bin/sh", "-c",
            "cd \(out) && for d in $(jq -r '.manifests[] | select(.annotations.\"org.opencontainers.image.ref.name\"==\"v1\") | .digest' index.json | cut -d: -f2); do for l in $(jq -r '.layers[].digest' blobs/sha256/$d | cut -d: -f2); do tar -tzf blobs/sha256/$l; done; done"
        ])
        #expect(files.status == 0, "\(files)")
        let listed = Set(
            files.stdout.split(separator: "\n").map { String($0.hasPrefix("./") ? $0.dropFirst(2) : $0[...]) })
        for f in ["app/out", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/UTC"] {
            #expect(listed.contains(f), "\(f) in the final image")
        }
        #expect(!listed.contains { $0.hasPrefix("usr/lib/go") || $0.hasPrefix("bin/") || $0.hasPrefix("usr/bin/") })
        let slim = a.int("imageUncompressedSize"), full = a.int("buildStageUncompressedSize")
        #expect(slim > 0 && full > 0)
        #expect(Double(slim) < 0.10 * Double(full), "final \(slim) B vs build stage \(full) B")

        // No change: nothing runs, same image.
        let b = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(b.executed.isEmpty)
        #expect(b.manifest == a.manifest)

        // Source-only change: only the build step re-runs; the dependency install survives.
        try "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello again\") }\n"
            .write(toFile: app + "/main.go", atomically: true, encoding: .utf8)
        let c = try Self.requireBuilt(app, cache: cache, output: out + ":v2")
        #expect(c.executed == ["build/build"])
        #expect(c.cached.contains("build/install") && c.cached.contains("build/setup"))
        #expect(try Self.podmanRun(out, tag: "v2").stdout == "hello again\n")

        // A corrupted layer blob and a half-written entry (tree missing) are detected and rebuilt.
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache + "/entries").filter {
            $0.hasSuffix(".json")
        }
        var corrupted = 0
        for e in entries {
            let data = try #require(FileManager.default.contents(atPath: cache + "/entries/" + e))
            let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            guard let by = obj["createdBy"] as? String, by.hasPrefix("ociforge phase build:"),
                let layer = obj["layer"] as? [String: Any], let digest = layer["digest"] as? String
            else { continue }
            let blob = cache + "/blobs/blobs/sha256/" + digest.dropFirst(7)
            guard FileManager.default.fileExists(atPath: blob) else { continue }
            let fd = open(blob, O_WRONLY)
            #expect(fd >= 0)
            _ = ftruncate(fd, 100)
            close(fd)
            corrupted += 1
        }
        #expect(corrupted >= 1)
        for e in entries {
            let data = try #require(FileManager.default.contents(atPath: cache + "/entries/" + e))
            let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            if (obj["createdBy"] as? String)?.hasPrefix("ociforge phase install:") == true {
                // Half-written metadata.
                try Data(data.prefix(data.count / 2)).write(to: URL(fileURLWithPath: cache + "/entries/" + e))
            }
        }
        let d = try Self.requireBuilt(app, cache: cache, output: out + ":v3")
        #expect(d.executed == ["build/install", "build/build"])
        #expect(d.stderr.contains("unusable"), "the broken entries are reported")
        #expect(try Self.podmanRun(out, tag: "v3").stdout == "hello again\n")

        // Reproducible: the original source from a clean layer cache gives the first digest again.
        try "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
            .write(toFile: app + "/main.go", atomically: true, encoding: .utf8)
        let e = try Self.requireBuilt(app, cache: dir.path + "/cache-clean", output: dir.path + "/oci2:v1")
        #expect(e.executed == ["build/setup", "build/install", "build/build"])
        #expect(e.manifest == a.manifest)
    }

    @Test(
        "Go app on a Debian runtime base: --runtime-base debian:trixie-slim has working CA certificates; a start command needing a shell switches the scratch base to Debian slim"
    )
    func goDebianRuntime() throws {
        let dir = try TempDir.make("build-go-debian")
        defer { dir.remove() }
        let app = try Self.app("planner/go-mod/app", in: dir)
        // Prints how many trusted roots Go loads from the system (the bundle paths Go looks for on Linux).
        try """
        package main

        import (
        	"crypto/x509"
        	"fmt"
        	"os"
        )

        func main() {
        	pool, err := x509.SystemCertPool()
        	if err != nil {
        		fmt.Println("no system roots:", err)
        		os.Exit(1)
        	}
        	fmt.Println("roots", len(pool.Subjects()))
        }

        """.write(toFile: app + "/main.go", atomically: true, encoding: .utf8)
        let cache = dir.path + "/cache"
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(
            app, cache: cache, output: out + ":slim", extra: ["--runtime-base", "debian:trixie-slim"])
        let annotations = a.report["annotations"] as? [String: String] ?? [:]
        #expect(annotations["org.opencontainers.image.base.name"] == "debian:trixie-slim")
        let run = try Self.podmanRun(out, tag: "slim")
        #expect(run.status == 0, "\(run)")
        let roots =
            Int(run.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "")
            ?? 0
        #expect(roots > 100, "Go finds the CA bundle on the Debian runtime base: \(run.stdout)")
        #expect(
            (a.report["layers"] as? [[String: Any]] ?? []).contains { ($0["phase"] as? String) == "build-stage-files" },
            "the CA bundle and zoneinfo come from the build stage")
        let tz = try Self.podmanRun(
            out, tag: "slim",
            [
                "/bin/sh", "-c",
                "test -s /etc/ssl/certs/ca-certificates.crt && test -f /usr/share/zoneinfo/UTC && echo ok"
            ])
        #expect(tz.stdout == "ok\n", "\(tz)")

        // A start command needing a shell: the plan's scratch base cannot run it, so the runtime base becomes
        // Debian slim (with a warning saying how to keep scratch), and the image runs it.
        let b = try Self.requireBuilt(
            app, cache: cache, output: out + ":shell", extra: ["--start-cmd", "echo starting && exec ./out"])
        #expect(b.executed.isEmpty, "only the start command changed: \(b.executed)")
        #expect(
            (b.report["annotations"] as? [String: String])?["org.opencontainers.image.base.name"]
                == "debian:trixie-slim")
        let warnings = b.report["warnings"] as? [[String: String]] ?? []
        #expect(
            warnings.contains {
                $0["code"] == "runtimeBaseReplaced" && $0["message"]?.contains("needs a shell") == true
                    && $0["message"]?.contains("plain words") == true
            }, "\(warnings)")
        let shell = try Self.podmanRun(out, tag: "shell")
        #expect(shell.stdout.hasPrefix("starting\nroots "), "\(shell)")

        // Asked for explicitly, scratch is kept and the shell command refused with the fix.
        let c = try Self.build(
            app, cache: cache, output: out + ":scratch",
            extra: ["--runtime-base", "scratch", "--start-cmd", "echo starting && exec ./out"])
        #expect(c.status != 0)
        #expect(
            c.stderr.contains("needs a shell") && c.stderr.contains("--runtime-base debian:trixie-slim"),
            "\(c.stderr.suffix(2000))")
    }

    @Test(
        "progress: plain lines when stderr is not a terminal, a live status line redrawn in place on a terminal, nothing with --quiet"
    )
    func progressDisplay() throws {
        let dir = try TempDir.make("build-progress")
        defer { dir.remove() }
        let app = try Self.app("planner/shell-script/app", in: dir)
        let env = ["OCIFORGE_STATE_DIR": Self.stateDir, "SOURCE_DATE_EPOCH": Self.epoch]
        let base = [
            Harness.ociforge, "build", app, "--cache-dir", dir.path + "/cache", "--output",
            "oci-layout:\(dir.path)/oci:latest"
        ]

        // Not a terminal: one plain line per event, in build order, with elapsed times; phase output prefixed.
        let plain = try Harness.run(base + ["--build-cmd", "echo building-now"], environment: env, timeout: 1200)
        #expect(plain.status == 0, "\(plain)")
        let lines = plain.stderr.split(separator: "\n").map(String.init)
        func index(_ needle: String) -> Int? { lines.firstIndex { $0.contains(needle) } }
        let started = try #require(index("[build] build: running 1 command"), "\(plain.stderr)")
        let output = try #require(index("[build/build] building-now"), "\(plain.stderr)")
        let done = try #require(index("[build] build: done in"), "\(plain.stderr)")
        #expect(started < output && output < done)
        #expect(
            lines[started].range(of: #"^ *\d+\.\ds \[build\] build: running"#, options: .regularExpression) != nil,
            "\(lines[started])")
        #expect(index("[runtime] base:") != nil)
        #expect(!plain.stderr.contains("\u{1B}["), "no escape sequences without a terminal")

        // Quiet: no progress and no phase output.
        // (The command prints what its text does not contain: the summary table shows the text.)
        let quiet = try Harness.run(
            base + ["--build-cmd", "echo quiet-$((40+2))", "--quiet"], environment: env, timeout: 1200)
        #expect(quiet.status == 0, "\(quiet)")
        #expect(
            !quiet.stderr.contains("quiet-42") && !quiet.stderr.contains("[build] build:")
                && !quiet.stderr.contains("[runtime] base:"),
            "\(quiet.stderr)")

        // A terminal (script(1) gives the build a pseudo-terminal): the running step's status line (step, elapsed)
        // is drawn and erased in place, and finished steps become bold permanent lines.
        let cmd = (base + ["--build-cmd", "echo tty-build; sleep 1"]).map {
            "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
        let tty = try Harness.run(
            ["script", "-qfec", cmd, "/dev/null"], environment: env.merging(["COLUMNS": "100"]) { $1 }, timeout: 1200)
        #expect(tty.status == 0, "\(tty)")
        #expect(tty.stdout.contains("\r\u{1B}[K"), "the status line is erased and redrawn")
        #expect(
            tty.stdout.range(of: #"\[build\] build \d+\.\ds"#, options: .regularExpression) != nil,
            "a status line with the step and its elapsed time")
        #expect(tty.stdout.contains("\u{1B}[1m") && tty.stdout.contains("[build] build: done in"))
        #expect(tty.stdout.contains("[build/build] tty-build"))
    }

    @Test("Python web app with a PyPI dependency: gunicorn answers on loopback; cache hits on rebuilds")
    func pythonApp() throws {
        let dir = try TempDir.make("build-python")
        defer { dir.remove() }
        let app = try Self.app("planner/python-flask/app", in: dir)
        let out = dir.path + "/oci"
        let cache = dir.path + "/cache"
        let a = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(a.executed == ["build/setup", "build/install", "runtime/packages", "runtime/user"])
        #expect(try Self.httpGet(out, tag: "v1") == "hi")
        let clean = try Self.requireBuilt(app, cache: dir.path + "/cache-clean", output: dir.path + "/oci2:v1")
        #expect(clean.manifest == a.manifest, "reproducible from a clean layer cache (same wheels from PyPI)")
        let b = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(b.executed.isEmpty)
        #expect(b.manifest == a.manifest)
        try "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'changed'\n"
            .write(toFile: app + "/main.py", atomically: true, encoding: .utf8)
        let c = try Self.requireBuilt(app, cache: cache, output: out + ":v2")
        #expect(c.executed.isEmpty, "a source-only change re-runs no install: \(c.executed)")
        #expect(try Self.httpGet(out, tag: "v2") == "changed")
    }

    @Test("nixpacks.toml-only app (providers = []): busybox httpd serves the build step's output")
    func nixpacksTomlOnly() throws {
        let dir = try TempDir.make("build-toml")
        defer { dir.remove() }
        let app = try Self.app("planner/no-providers/app", in: dir)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed == ["build/setup", "build/build", "runtime/packages", "runtime/user"])
        #expect(try Self.httpGet(out, tag: "latest", containerPort: 8080, path: "/index.html").contains("<h1>hi</h1>"))
        try Self.expectReproducible(app, a, in: dir)
    }

    @Test("Procfile app: web process from the Procfile, release step ran during the build, venv in the runtime image")
    func procfileApp() throws {
        let dir = try TempDir.make("build-procfile")
        defer { dir.remove() }
        let app = try Self.app("planner/procfile-release/app", in: dir)
        try E2EFixture.procfileRelease(app)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed.contains("build/release"))
        #expect(try Self.httpGet(out, tag: "latest") == "migrated")
        try Self.expectReproducible(app, a, in: dir)
    }

    @Test("Rust app without crates: cargo build in the sandbox (target dir a cache mount), slim image runs the binary")
    func rustApp() throws {
        let dir = try TempDir.make("build-rust")
        defer { dir.remove() }
        let app = try Self.app("planner/rust-cargo/app", in: dir)
        let out = dir.path + "/oci"
        // rust-toolchain.toml asks for the `stable` channel, which plans upstream: no machine here reaches the Rust
        // dist server and no rust mirror is set, so the build fails before any step, naming the channel URL, the
        // setting that points it at a mirror and the Debian rustc that would do instead.
        let upstream = try Self.build(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(upstream.status != 0, "\(upstream.stderr)")
        #expect(
            upstream.stderr.contains("https://static.rust-lang.org/dist/channel-rust-stable.toml"), "\(upstream.stderr)"
        )
        #expect(upstream.stderr.contains("[toolchains.mirrors] rust in ociforge.toml or $OCIFORGE_TOOLCHAINS_RUST_URL"))
        #expect(upstream.stderr.contains("[toolchains.rust] source = \"debian\""))
        #expect(!FileManager.default.fileExists(atPath: out), "nothing written")
        try E2EFixture.rustFromDebian(app)
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed.contains("build/build"))
        #expect(try Self.podmanRun(out, tag: "latest").stdout == "hi\n")
        let probe = try Self.podmanRun(out, tag: "latest", ["/bin/sh", "-c", "command -v cargo rustc || echo no-rust"])
        #expect(probe.stdout == "no-rust\n", "\(probe)")
        try Self.expectReproducible(app, a, in: dir)
    }

    @Test("Ruby app without gems (Procfile web process): bundle install offline, HTTP answer on loopback")
    func rubyApp() throws {
        let dir = try TempDir.make("build-ruby")
        defer { dir.remove() }
        let app = try Self.app("apps/ruby-plain", in: dir)
        let out = dir.path + "/oci"
        try E2EFixture.rubyWithoutBundledWith(app)
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(try Self.httpGet(out, tag: "latest").hasPrefix("ruby 3.3"))
        try Self.expectReproducible(app, a, in: dir)
    }

    @Test("Node app without registry dependencies: npm ci and npm run build in the sandbox, node serves the built file")
    func nodeApp() throws {
        let dir = try TempDir.make("build-node")
        defer { dir.remove() }
        let app = try Self.app("apps/node-plain", in: dir)
        let out = dir.path + "/oci"
        // The runtime stage installs nodejs only (no npm): start node directly.
        let a = try Self.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":latest", extra: ["--start-cmd", "node index.js"])
        #expect(a.executed.contains("build/build"))
        #expect(try Self.httpGet(out, tag: "latest") == "built by node v20.19.2")
        try Self.expectReproducible(app, a, in: dir, extra: ["--start-cmd", "node index.js"])
    }

    @Test("Two providers (python + node): node builds an asset, gunicorn serves it from the same runtime image")
    func twoProviders() throws {
        let dir = try TempDir.make("build-two")
        defer { dir.remove() }
        let app = try Self.app("planner/multi-providers/app", in: dir)
        try E2EFixture.twoProviders(app)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed.contains("build/node:build") && a.executed.contains("build/install"))
        #expect(try Self.httpGet(out, tag: "latest") == "asset from v20.19.2")
        try Self.expectReproducible(app, a, in: dir)
    }
}
