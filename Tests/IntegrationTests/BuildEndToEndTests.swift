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
    static let stateDir = DebianBase.cacheDir + "/build-state"

    struct Build {
        var status: Int32
        var report: [String: Any]
        var stderr: String
        var manifest: String { report["manifestDigest"] as? String ?? "" }
        var executed: [String] { report["executed"] as? [String] ?? [] }
        var cached: [String] { report["cached"] as? [String] ?? [] }
        func int(_ k: String) -> Int64 { (report[k] as? NSNumber)?.int64Value ?? -1 }
    }

    /// A copy of a fixture app in a fresh directory.
    static func app(_ fixture: String, in dir: TempDir, name: String = "app") throws -> String {
        let dst = dir.path + "/" + name
        try Harness.ok(["cp", "-r", Harness.fixture(fixture), dst])
        return dst
    }

    @discardableResult
    static func build(_ app: String, cache: String, output: String, extra: [String] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> Build {
        let r = try Harness.run([Harness.ociforge, "build", app, "--output", "oci-layout:" + output, "--cache-dir", cache,
                                 "--json", "--quiet"] + extra,
                                environment: ["OCIFORGE_STATE_DIR": stateDir, "SOURCE_DATE_EPOCH": epoch], timeout: 1200)
        var report: [String: Any] = [:]
        if r.status == 0 {
            guard let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
                throw HarnessError("build --json printed no JSON object:\n\(r)")
            }
            report = obj
        }
        return Build(status: r.status, report: report, stderr: r.stderr)
    }

    static func requireBuilt(_ app: String, cache: String, output: String, extra: [String] = [],
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> Build {
        let b = try build(app, cache: cache, output: output, extra: extra, sourceLocation: sourceLocation)
        if b.status != 0 {
            Issue.record("build of \(app) failed:\n\(b.stderr.suffix(4000))", sourceLocation: sourceLocation)
            throw HarnessError("build failed")
        }
        return b
    }

    static let podman = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]

    /// `podman run --rm` of the image, returning stdout.
    static func podmanRun(_ layout: String, tag: String, _ args: [String] = []) throws -> ProcessOutput {
        try Harness.run(podman + ["run", "--rm", "--network", "host", "oci:\(layout):\(tag)"] + args, timeout: 300)
    }

    /// Starts the image detached with `PORT` set and host networking, fetches `path` from loopback, stops it.
    static func httpGet(_ layout: String, tag: String, containerPort: Int? = nil, path: String = "/") throws -> String {
        let port = containerPort ?? freePort()
        let name = "ociforge-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Harness.ok(podman + ["run", "-d", "--name", name, "--network", "host", "-e", "PORT=\(port)", "oci:\(layout):\(tag)"])
        defer { _ = try? Harness.run(podman + ["rm", "-f", "-t", "0", name]) }
        var last = ""
        for _ in 0..<120 {
            let r = try Harness.run(["curl", "-sS", "--max-time", "2", "http://127.0.0.1:\(port)\(path)"], timeout: 10)
            if r.status == 0 { return r.stdout }
            last = r.stderr
            usleep(250_000)
        }
        let logs = (try? Harness.run(podman + ["logs", name]))?.description ?? ""
        throw HarnessError("no HTTP answer on 127.0.0.1:\(port): \(last)\n\(logs)")
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
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
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

        // A failing phase: clear message, exit status, no image written, the previous one intact.
        let indexBefore = try String(contentsOfFile: out + "/index.json", encoding: .utf8)
        let f = try Self.build(app, cache: dir.path + "/cache1", output: out + ":v1",
                               extra: ["--build-cmd", "echo about to fail; echo 'disk on fire' >&2; exit 7"])
        #expect(f.status != 0)
        #expect(f.stderr.contains("phase build/build failed"), "\(f.stderr.suffix(2000))")
        #expect(f.stderr.contains("exit status: 7"), "\(f.stderr.suffix(2000))")
        #expect(f.stderr.contains("disk on fire"), "last output lines are shown")
        #expect(f.stderr.contains("exit 7"), "the failing command is named")
        #expect(try String(contentsOfFile: out + "/index.json", encoding: .utf8) == indexBefore)
        #expect(try Self.podmanRun(out, tag: "v1").stdout == "hello\n")
    }

    @Test("static site: nginx serves it on loopback; reproducible from clean caches")
    func staticSite() throws {
        let dir = try TempDir.make("build-static")
        defer { dir.remove() }
        let app = try Self.app("planner/staticfile/app", in: dir)
        let out = dir.path + "/oci"
        let a = try Self.requireBuilt(app, cache: dir.path + "/cache1", output: out + ":latest")
        let config = a.report["annotations"] as? [String: String] ?? [:]
        #expect(config["org.opencontainers.image.base.name"] == "debian:bookworm-slim")
        #expect(config["org.opencontainers.image.base.digest"]?.hasPrefix("sha256:") == true)
        #expect(config["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z")
        // nginx.conf (a static asset) listens on 8080.
        let page = try Self.httpGet(out, tag: "latest", containerPort: 8080)
        #expect(page.contains("<h1>hi</h1>"))
        let b = try Self.requireBuilt(app, cache: dir.path + "/cache2", output: dir.path + "/oci2:latest")
        #expect(a.manifest == b.manifest)
    }

    @Test("Go app: runs, slim image without the toolchain, cache: no-change and source-only rebuilds, corrupt entries rebuilt, reproducible")
    func goApp() throws {
        let dir = try TempDir.make("build-go")
        defer { dir.remove() }
        let app = try Self.app("planner/go-mod/app", in: dir)
        let out = dir.path + "/oci"
        let cache = dir.path + "/cache"
        let a = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(a.executed == ["build/setup", "build/install", "build/build"])
        #expect(try Self.podmanRun(out, tag: "v1").stdout == "hello\n")

        // Slim: no Go toolchain in the final image, < 10 % of the build stage.
        let probe = try Self.podmanRun(out, tag: "v1", ["/bin/sh", "-c", "ls /usr/lib/go-1.19 /usr/bin/go 2>/dev/null; command -v go || echo no-go"])
        #expect(probe.stdout == "no-go\n", "\(probe)")
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
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache + "/entries").filter { $0.hasSuffix(".json") }
        var corrupted = 0
        for e in entries {
            let data = try #require(FileManager.default.contents(atPath: cache + "/entries/" + e))
            let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            guard let by = obj["createdBy"] as? String, by.hasPrefix("ociforge phase build:"),
                  let layer = obj["layer"] as? [String: Any], let digest = layer["digest"] as? String else { continue }
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
                try FileManager.default.removeItem(atPath: cache + "/trees/" + e.dropLast(5))
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

    @Test("Python web app with a PyPI dependency: gunicorn answers on loopback; cache hits on rebuilds")
    func pythonApp() throws {
        let dir = try TempDir.make("build-python")
        defer { dir.remove() }
        let app = try Self.app("planner/python-flask/app", in: dir)
        let out = dir.path + "/oci"
        let cache = dir.path + "/cache"
        let a = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(a.executed == ["build/setup", "build/install"])
        #expect(try Self.httpGet(out, tag: "v1") == "hi")
        let b = try Self.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(b.executed.isEmpty)
        #expect(b.manifest == a.manifest)
        try "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'changed'\n"
            .write(toFile: app + "/main.py", atomically: true, encoding: .utf8)
        let c = try Self.requireBuilt(app, cache: cache, output: out + ":v2")
        #expect(c.executed.isEmpty, "a source-only change re-runs no install: \(c.executed)")
        #expect(try Self.httpGet(out, tag: "v2") == "changed")
    }
}
