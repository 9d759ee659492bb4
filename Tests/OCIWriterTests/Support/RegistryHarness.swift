import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import OCIWriter

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
                throw OCIWriterError(.network, "server process exited with status \(p.terminationStatus) before listening on \(port)")
            }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let r = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
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
func run(_ exe: String, _ args: [String], environment: [String: String]? = nil, input: String? = nil) throws -> (Int32, String) {
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
        case token(users: [String: String], pushers: Set<String>, refreshTokens: [String: String] = [:],
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
            try out.trimmingCharacters(in: .whitespacesAndNewlines).appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
            authYAML = "auth:\n  htpasswd:\n    realm: test-registry\n    path: \(file)\n"
        case .token(let users, let pushers, let refreshTokens, let expiresIn, let oauth):
            let key = dir.path + "/token.key", cert = dir.path + "/token.crt"
            let (st, out) = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                                         "-days", "2", "-subj", "/CN=ociforge-test-token-issuer"])
            guard st == 0 else { throw OCIWriterError(.io, "openssl req failed: \(out)") }
            let tport = try Net.freePort()
            let script = dir.path + "/token_server.py"
            try TokenServerScript.source.write(toFile: script, atomically: true, encoding: .utf8)
            let policy = dir.path + "/policy.json"
            let obj: [String: Any] = ["users": users, "pushers": Array(pushers), "refresh_tokens": refreshTokens,
                                      "expires_in": expiresIn, "oauth": oauth, "log": dir.path + "/token-requests.log"]
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: policy))
            let ts = try ServerProcess("/usr/bin/env", ["python3", script, String(tport), key, cert, policy], log: dir.path + "/token.log")
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
        server = try ServerProcess("/usr/bin/docker-registry", ["serve", dir.path + "/config.yml"], log: dir.path + "/registry.log")
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
        ((try? String(contentsOfFile: dir.path + "/token-requests.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

enum TokenServerScript {
    /// A Bearer token server: Basic-authenticated users from the policy get push (if listed in `pushers`) and pull;
    /// anonymous requests and others get pull only. Tokens are RS256 JWTs signed with `openssl dgst`, with the
    /// certificate in `x5c` (the registry's rootcertbundle).
    static let source = #"""
import base64, json, subprocess, sys, time, os, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

port, keyfile, certfile, policyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
policy = json.load(open(policyfile))
refresh = dict(policy.get("refresh_tokens", {}))
lock = threading.Lock()
pem = open(certfile).read()
der_b64 = "".join(l for l in pem.splitlines() if "-----" not in l)

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def sign(data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=data, capture_output=True, check=True)
    return p.stdout

def log(line):
    with lock:
        with open(policy["log"], "a") as f: f.write(line + "\n")

def issue(user, scopes, service):
    access = []
    for s in scopes:
        parts = s.split(":")
        if len(parts) != 3 or parts[0] != "repository": continue
        wanted = parts[2].split(",")
        allowed = [a for a in wanted if a == "pull" or (a == "push" and user in policy["pushers"])]
        access.append({"type": "repository", "name": parts[1], "actions": allowed})
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5c": [der_b64]}
    claims = {"iss": "ociforge-test-issuer", "sub": user or "", "aud": service,
              "exp": now + policy["expires_in"], "nbf": now - 10, "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    return signing.decode() + "." + b64url(sign(signing)), now

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(n).decode())
        if not policy.get("oauth", True):
            log("POST unsupported")
            self.reply(405, {"details": "method not allowed"}); return
        grant = form.get("grant_type", [""])[0]
        client = form.get("client_id", [""])[0]
        if grant != "refresh_token" or not client:
            log("POST bad-request grant=%s client=%s" % (grant, client))
            self.reply(400, {"error": "unsupported_grant_type"}); return
        with lock:
            user = refresh.get(form.get("refresh_token", [""])[0])
        if user is None:
            log("POST invalid-grant")
            self.reply(400, {"error": "invalid_grant", "error_description": "unknown refresh token"}); return
        scopes = " ".join(form.get("scope", [])).split()
        token, now = issue(user, scopes, form.get("service", [""])[0])
        new_refresh = "rt-" + b64url(os.urandom(9))
        with lock: refresh[new_refresh] = user
        log("POST grant=refresh_token client=%s user=%s" % (client, user))
        self.reply(200, {"access_token": token, "expires_in": policy["expires_in"], "refresh_token": new_refresh,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})
    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            with lock: by_refresh = refresh.get(pw) == name
            if policy["users"].get(name) != pw and not by_refresh:
                log("GET rejected user=%s" % name)
                self.send_response(401); self.send_header("Content-Type", "application/json"); self.end_headers()
                self.wfile.write(b'{"details":"invalid username or password"}'); return
            user = name
        log("GET user=%s" % (user or ""))
        token, now = issue(user, q.get("scope", []), q.get("service", [""])[0])
        key = "access_token" if user is None else "token"
        self.reply(200, {key: token, "expires_in": policy["expires_in"]})

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""#
}
