import Foundation

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary directory under /tmp, removed by `remove()`.
struct TempDir {
    let path: String
    init(_ prefix: String = "ociforge-reg") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw OCIWriterError.sys("mkdtemp failed")
        }
        path = String(cString: template)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) throws -> String {
        let p = path + "/" + name
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }
}

enum Net {
    /// A currently free loopback TCP port.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw OCIWriterError.sys("socket") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { throw OCIWriterError.sys("bind") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Waits until something accepts connections on 127.0.0.1:`port`.
    static func waitForPort(_ port: Int, process: Process? = nil, seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let p = process, !p.isRunning {
                throw OCIWriterError(
                    .network, "server process exited with status \(p.terminationStatus) before listening on \(port)")
            }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let r = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if r == 0 { return }
            usleep(50_000)
        }
        throw OCIWriterError(.network, "nothing listening on 127.0.0.1:\(port) after \(seconds) s")
    }
}

/// Runs a program to completion; returns (status, stdout+stderr).
@discardableResult
func run(_ exe: String, _ args: [String], environment: [String: String]? = nil, input: String? = nil) throws -> (
    Int32, String
) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let inPipe = Pipe()
    p.standardInput = input != nil ? inPipe : FileHandle.nullDevice
    try p.run()
    if let input {
        signal(SIGPIPE, SIG_IGN)  // a child that exits without reading its input must not kill the test process
        inPipe.fileHandleForWriting.write(Data(input.utf8))
        try? inPipe.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A background server process stopped by `stop()`.
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let logPath: String
    init(_ exe: String, _ args: [String], log: String, environment: [String: String]? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        if let environment { process.environment = environment }
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = h
        process.standardError = h
        process.standardInput = FileHandle.nullDevice
        logPath = log
        try process.run()
    }
    func stop() {
        // SIGKILL: children may inherit an ignored SIGTERM from the test runner (seen with python3).
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Debian's `docker-registry` (distribution 2.8) on a free loopback port, with a config written for the test.
final class TestRegistry: @unchecked Sendable {
    enum Auth {
        case none
        case htpasswd(user: String, password: String)
        /// Bearer tokens from a token server started alongside; `users` map name → password;
        /// `pushers` may push, everyone (including anonymous) may pull. `refreshTokens` map OAuth2 refresh token →
        /// user for the POST `grant_type=refresh_token` flow (answered 405 when `oauth` is false; GET then accepts
        /// a refresh token as the user's password). Tokens live `expiresIn` seconds.
        case token(
            users: [String: String], pushers: Set<String>, refreshTokens: [String: String] = [:],
            expiresIn: Int = 300, oauth: Bool = true)
    }

    let dir: TempDir
    let port: Int
    let server: ServerProcess
    var tokenServer: ServerProcess?
    var host: String { "127.0.0.1:\(port)" }

    init(auth: Auth = .none, relativeURLs: Bool = false) throws {
        dir = try TempDir("ociforge-registry")
        port = try Net.freePort()
        var authYAML = ""
        var tokenServer: ServerProcess?
        switch auth {
        case .none:
            break
        case .htpasswd(let user, let password):
            let (st, out) = try run("/usr/bin/htpasswd", ["-Bbn", user, password])
            guard st == 0 else { throw OCIWriterError(.io, "htpasswd failed: \(out)") }
            let file = dir.path + "/htpasswd"
            try out.trimmingCharacters(in: .whitespacesAndNewlines).appending("\n").write(
                toFile: file, atomically: true, encoding: .utf8)
            authYAML = "auth:\n  htpasswd:\n    realm: test-registry\n    path: \(file)\n"
        case .token(let users, let pushers, let refreshTokens, let expiresIn, let oauth):
            let key = dir.path + "/token.key", cert = dir.path + "/token.crt"
            let (st, out) = try run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=ociforge-test-token-issuer"
                ])
            guard st == 0 else { throw OCIWriterError(.io, "openssl req failed: \(out)") }
            let tport = try Net.freePort()
            let script = dir.path + "/token_server.py"
            try TokenServerScript.source.write(toFile: script, atomically: true, encoding: .utf8)
            let policy = dir.path + "/policy.json"
            let obj: [String: Any] = [
                "users": users, "pushers": Array(pushers), "refresh_tokens": refreshTokens,
                "expires_in": expiresIn, "oauth": oauth, "log": dir.path + "/token-requests.log"
            ]
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: policy))
            let ts = try ServerProcess(
                "/usr/bin/env", ["python3", script, String(tport), key, cert, policy], log: dir.path + "/token.log")
            try Net.waitForPort(tport, process: ts.process)
            tokenServer = ts
            authYAML = """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tport)/token
                    service: ociforge-test-registry
                    issuer: ociforge-test-issuer
                    rootcertbundle: \(cert)

                """
        }
        let config = """
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(dir.path)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
              secret: ociforge-test-secret
              relativeurls: \(relativeURLs)
            \(authYAML)
            """
        try config.write(toFile: dir.path + "/config.yml", atomically: true, encoding: .utf8)
        server = try ServerProcess(
            "/usr/bin/docker-registry", ["serve", dir.path + "/config.yml"], log: dir.path + "/registry.log")
        self.tokenServer = tokenServer
        do {
            try Net.waitForPort(port, process: server.process)
        } catch {
            server.stop()
            tokenServer?.stop()
            throw OCIWriterError(.network, "docker-registry did not start: \(error)\n\(server.log)")
        }
    }

    func stop() {
        server.stop()
        tokenServer?.stop()
        dir.remove()
    }

    /// One line per token request: `POST grant=refresh_token client=ociforge user=alice` or `GET user=alice`.
    var tokenRequests: [String] {
        ((try? String(contentsOfFile: dir.path + "/token-requests.log", encoding: .utf8)) ?? "").split(separator: "\n")
            .map(String.init)
    }
}

enum TokenServerScript {
    /// A Bearer token server: Basic-authenticated users from the policy get push (if listed in `pushers`) and pull;
    /// anonymous requests and others get pull only. Tokens are RS256 JWTs signed with `openssl dgst`, with the
    /// certificate in `x5c` (the registry's rootcertbundle).
    static let source: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return try! String(contentsOfFile: url.path + "/Fixtures/registry/token_server.py", encoding: .utf8)
    }()
}
