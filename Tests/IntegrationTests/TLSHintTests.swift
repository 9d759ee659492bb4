import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A step that fails on a certificate it cannot verify gets one extra error line naming `--ca-bundle` (issue 12
/// item 4), on both strategies; with `--ca-bundle <the server's certificate>` the same build passes. The server is
/// a real HTTPS server on loopback with a self-signed certificate.
@Suite("TLS hint", .serialized)
struct TLSHintTests {
    /// A self-signed certificate for 127.0.0.1 and a python3 HTTPS server serving `ok.txt` on a free port.
    final class SelfSignedServer {
        let dir: TempDir
        let process = Process()
        let port: Int
        var certificate: String { dir.path + "/cert.pem" }
        var url: String { "https://127.0.0.1:\(port)/ok.txt" }

        init() throws {
            dir = try TempDir.make("tls-server")
            chmod(dir.path, 0o755)
            try Harness.ok([
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir.path + "/key.pem", "-out",
                dir.path + "/cert.pem"
            ])
            chmod(dir.path + "/cert.pem", 0o644)
            try FileManager.default.createDirectory(atPath: dir.path + "/www", withIntermediateDirectories: true)
            try "fetched over TLS\n".write(toFile: dir.path + "/www/ok.txt", atomically: true, encoding: .utf8)
            let script = """
                import http.server, ssl, sys, functools
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1] + "/www")
                httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(sys.argv[1] + "/cert.pem", sys.argv[1] + "/key.pem")
                httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
                open(sys.argv[1] + "/port.tmp", "w").write(str(httpd.server_address[1]))
                __import__("os").rename(sys.argv[1] + "/port.tmp", sys.argv[1] + "/port")
                httpd.serve_forever()
                """
            try script.write(toFile: dir.path + "/server.py", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", dir.path + "/server.py", dir.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var found: Int?
            for _ in 0..<200 {
                if let s = try? String(contentsOfFile: dir.path + "/port", encoding: .utf8), let p = Int(s) {
                    found = p
                    break
                }
                usleep(50_000)
            }
            guard let found else {
                kill(process.processIdentifier, SIGKILL)
                throw HarnessError("the HTTPS test server did not start")
            }
            port = found
        }

        func stop() {
            // SIGKILL: the child inherits the test runner's blocked signal mask, so SIGTERM would stay pending.
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            dir.remove()
        }
    }

    static let hintLine = "hint: the step's"

    @Test(
        "plan strategy: curl in a build step fails on the self-signed server with the --ca-bundle hint; passes with it")
    func planStrategy() throws {
        let server = try SelfSignedServer()
        defer { server.stop() }
        let dir = try TempDir.make("tls-plan")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        let app = dir.path + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        try """
        providers = []

        [phases.setup]
        aptPkgs = ["curl", "ca-certificates"]

        [phases.build]
        cmds = ["curl -fsS \(server.url) -o fetched.txt"]

        [start]
        cmd = "cat fetched.txt"

        """.write(toFile: app + "/nixpacks.toml", atomically: true, encoding: .utf8)
        let env = ["OCIFORGE_STATE_DIR": BuildEndToEndTests.stateDir, "SOURCE_DATE_EPOCH": BuildEndToEndTests.epoch]
        let base = [
            Harness.ociforge, "build", app, "--output", "oci-layout:\(dir.path)/oci:latest", "--cache-dir",
            dir.path + "/cache", "--quiet"
        ]
        let failed = try Harness.run(base, environment: env, timeout: 1200)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("SSL certificate problem"), "curl's own wording: \(failed.stderr)")
        let hints = failed.stderr.split(separator: "\n").filter { $0.contains(Self.hintLine) }
        #expect(hints.count == 1 && hints[0].contains("--ca-bundle") && hints[0].contains("curl"), "\(failed.stderr)")

        let passed = try Harness.run(base + ["--ca-bundle", server.certificate], environment: env, timeout: 1200)
        #expect(passed.status == 0, "\(passed)")
        #expect(!passed.stderr.contains(Self.hintLine))
        let run = try BuildEndToEndTests.podmanRun(dir.path + "/oci", tag: "latest")
        #expect(run.stdout == "fetched over TLS\n", "\(run)")
    }

    @Test(
        "Dockerfile strategy: a RUN step fetching from the self-signed server with node fails with the --ca-bundle hint; passes with it",
        .enabled(if: DockerfileExecTests.available))
    func dockerfileStrategy() throws {
        let server = try SelfSignedServer()
        defer { server.stop() }
        let node = try DockerfileExecTests.nodeLayout()
        let dir = try DockerfileExecTests.tempDir("tls-df")
        defer { dir.remove() }
        let app = dir.path + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        let fetch =
            "require('https').get('\(server.url)', r => r.pipe(require('fs').createWriteStream('/fetched.txt')))"
            + ".on('error', e => { console.error('fetch failed:', e.code, e.message); process.exit(1) })"
        try "FROM oci:\(node):node\nRUN node -e \"\(fetch)\"\nCMD [\"cat\", \"/fetched.txt\"]\n"
            .write(toFile: app + "/Dockerfile", atomically: true, encoding: .utf8)
        let base = [
            Harness.ociforge, "build", app, "--output",
            "oci-layout:\(dir.path)/oci:latest", "--cache-dir", dir.path + "/cache", "--quiet"
        ]
        let failed = try Harness.run(base, environment: DockerfileExecTests.env(), timeout: 600)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("DEPTH_ZERO_SELF_SIGNED_CERT"), "node's own wording: \(failed.stderr)")
        let hints = failed.stderr.split(separator: "\n").filter { $0.contains(Self.hintLine) }
        #expect(hints.count == 1 && hints[0].contains("--ca-bundle") && hints[0].contains("node"), "\(failed.stderr)")

        let passed = try Harness.run(
            base + ["--ca-bundle", server.certificate], environment: DockerfileExecTests.env(), timeout: 600)
        #expect(passed.status == 0, "\(passed)")
        let run = try BuildEndToEndTests.podmanRun(dir.path + "/oci", tag: "latest")
        #expect(run.stdout == "fetched over TLS\n", "\(run)")
    }
}
