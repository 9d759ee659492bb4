import Foundation

@testable import OCIWriter

/// An HTTP reverse proxy in front of a test registry that injects faults by rule and counts upload bytes.
///
/// Rules are JSON objects `{"method": "GET", "path": "/blobs/sha256:", "action": …, "times": n}` where action is
/// `status:<code>` (answer without forwarding), `drop_response` (forward, send half the body, close),
/// `drop_request` (read half the request body, close without answering), `stall:<seconds>` (wait, then forward),
/// `corrupt_response` (flip a byte of the body), `corrupt_request` (flip a byte of the forwarded body).
/// `times` -1 means always. Control endpoints: `PUT /__rules` (replace rules, reset counters), `GET /__stats`.
final class FaultProxy: @unchecked Sendable {
    let port: Int
    let server: ServerProcess
    var host: String { "127.0.0.1:\(port)" }

    init(upstreamPort: Int, dir: TempDir) throws {
        port = try Net.freePort()
        let script = dir.path + "/fault_proxy.py"
        try Self.source.write(toFile: script, atomically: true, encoding: .utf8)
        server = try ServerProcess(
            "/usr/bin/env", ["python3", script, String(port), String(upstreamPort)], log: dir.path + "/proxy.log")
        try Net.waitForPort(port, process: server.process)
    }

    func stop() { server.stop() }

    struct Rule {
        var method: String
        var path: String
        var action: String
        var times: Int = 1
    }

    func setRules(_ rules: [Rule]) throws {
        let obj = rules.map {
            ["method": $0.method, "path": $0.path, "action": $0.action, "times": $0.times] as [String: Any]
        }
        let body = try JSONSerialization.data(withJSONObject: obj)
        _ = try control("PUT", "/__rules", body: body)
    }

    struct Stats {
        var uploadBodyBytes: Int
        var fired: Int
        var requests: Int
    }

    func stats() throws -> Stats {
        let data = try control("GET", "/__stats", body: nil)
        let obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return Stats(
            uploadBodyBytes: obj["upload_body_bytes"] as! Int, fired: obj["fired"] as! Int,
            requests: obj["requests"] as! Int)
    }

    private func control(_ method: String, _ path: String, body: Data?) throws -> Data {
        var args = ["-sS", "-f", "-X", method, "http://127.0.0.1:\(port)\(path)"]
        if let body {
            args += ["--data-binary", String(decoding: body, as: UTF8.self), "-H", "Content-Type: application/json"]
        }
        let (st, out) = try run("/usr/bin/curl", args)
        guard st == 0 else { throw OCIWriterError(.network, "fault proxy control \(path) failed: \(out)") }
        return Data(out.utf8)
    }

    static let source = #"""
        import http.client, json, sys, threading, time
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

        port, upstream = int(sys.argv[1]), int(sys.argv[2])
        lock = threading.Lock()
        state = {"rules": [], "fired": 0, "upload_body_bytes": 0, "requests": 0}

        def take_rule(method, path):
            with lock:
                for r in state["rules"]:
                    if r["method"] in (method, "*") and r["path"] in path and r["times"] != 0:
                        if r["times"] > 0: r["times"] -= 1
                        state["fired"] += 1
                        return r["action"]
            return None

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline(); return out
                        out += self.rfile.read(size); self.rfile.readline()
                n = int(self.headers.get("Content-Length", "0") or 0)
                return self.rfile.read(n) if n else b""

            def reply(self, code, headers, body, head=False):
                self.send_response(code)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"): self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head: self.wfile.write(body)

            def handle_any(self):
                method, path = self.command, self.path
                if path == "/__rules":
                    rules = json.loads(self.read_body() or b"[]")
                    with lock:
                        state["rules"] = rules; state["fired"] = 0; state["upload_body_bytes"] = 0; state["requests"] = 0
                    return self.reply(200, [], b"{}")
                if path == "/__stats":
                    with lock: body = json.dumps({k: state[k] for k in ("fired", "upload_body_bytes", "requests")}).encode()
                    return self.reply(200, [("Content-Type", "application/json")], body)
                with lock: state["requests"] += 1
                action = take_rule(method, path)
                if action == "drop_request":
                    n = int(self.headers.get("Content-Length", "0") or 0)
                    self.rfile.read(n // 2)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                body = self.read_body()
                if "/blobs/uploads/" in path and method in ("PUT", "PATCH"):
                    with lock: state["upload_body_bytes"] += len(body)
                if action and action.startswith("status:"):
                    code = int(action.split(":")[1])
                    hdrs = [("Content-Type", "application/json")]
                    if code == 429: hdrs.append(("Retry-After", "0"))
                    return self.reply(code, hdrs, b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}')
                if action and action.startswith("stall:"):
                    time.sleep(float(action.split(":")[1]))
                if action == "corrupt_request" and body:
                    body = bytearray(body); body[len(body) // 2] ^= 0xFF; body = bytes(body)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                hdrs["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                conn.request(method, path, body=body if method not in ("GET", "HEAD") or body else None, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read() if method != "HEAD" else b""
                rh = resp.getheaders()
                conn.close()
                if action == "corrupt_response" and data:
                    data = bytearray(data); data[len(data) // 2] ^= 0xFF; data = bytes(data)
                if action == "drop_response" and data:
                    self.send_response(resp.status)
                    for k, v in rh:
                        if k.lower() not in ("content-length", "transfer-encoding", "connection"): self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if method == "HEAD":
                    self.send_response(resp.status)
                    for k, v in rh:
                        if k.lower() not in ("transfer-encoding", "connection"): self.send_header(k, v)
                    self.end_headers()
                    return
                self.reply(resp.status, rh, data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """#
}
