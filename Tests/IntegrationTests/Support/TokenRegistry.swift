import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's docker-registry on loopback with Bearer-token auth: the token server of Fixtures/registry (shared with
/// the OCIWriter tests' harness) gives `user` push and pull, everyone else pull only.
final class TokenRegistry {
    let registry: Process
    let tokenServer: Process
    let port: Int
    var host: String { "127.0.0.1:\(port)" }

    init(dir: String, user: String, password: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let key = dir + "/token.key", cert = dir + "/token.crt"
        try Harness.ok([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=ociforge-deploy-test-issuer"
        ])
        let tokenPort = BuildEndToEndTests.freePort()
        let policy: [String: Any] = [
            "users": [user: password], "pushers": [user], "refresh_tokens": [String: String](),
            "expires_in": 300, "oauth": true, "log": dir + "/token-requests.log"
        ]
        try JSONSerialization.data(withJSONObject: policy).write(to: URL(fileURLWithPath: dir + "/policy.json"))
        tokenServer = try Self.start([
            "python3", Harness.fixture("registry/token_server.py"), String(tokenPort), key, cert, dir + "/policy.json"
        ])
        port = BuildEndToEndTests.freePort()
        try """
        version: 0.1
        log: {level: error, accesslog: {disabled: true}}
        storage: {filesystem: {rootdirectory: \(dir)/data}}
        http: {addr: 127.0.0.1:\(port), secret: ociforge-test}
        auth:
          token: {realm: "http://127.0.0.1:\(tokenPort)/token", service: ociforge-test-registry, issuer: ociforge-test-issuer, rootcertbundle: \(cert)}
        """.write(toFile: dir + "/config.yml", atomically: true, encoding: .utf8)
        registry = try Self.start(["/usr/bin/docker-registry", "serve", dir + "/config.yml"])
        for _ in 0..<200 {
            let v2 = try Harness.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(host)/v2/"])
                .stdout
            let token = try Harness.run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(tokenPort)/token"
            ]).stdout
            if v2 == "401" && token == "200" { return }
            usleep(50_000)
        }
        stop()
        throw HarnessError("the token registry did not answer on \(host)")
    }

    static func start(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func stop() {
        for p in [registry, tokenServer] where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }
}
