import Foundation
import Testing

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// `CurlTransport` on its own, against the in-process fake server: bodies, limits, redirects, stalls, cancellation.
@Suite("HTTP transport over libcurl", .timeLimit(.minutes(5)))
struct CurlTransportTests {
    final class Seen: @unchecked Sendable {
        let lock = NSLock()
        var requests: [FakeHTTPServer.Request] = []
        func add(_ r: FakeHTTPServer.Request) { lock.withLock { requests.append(r) } }
        var all: [FakeHTTPServer.Request] { lock.withLock { requests } }
    }

    static func url(_ s: FakeHTTPServer, _ path: String) -> URL { URL(string: "http://127.0.0.1:\(s.port)\(path)")! }

    @Test func uploadsStreamFromFilesAndBytesWithExactLengths() async throws {
        let seen = Seen()
        let server = try FakeHTTPServer { req in
            seen.add(req)
            return .init(status: 201, headers: ["Docker-Content-Digest": Digest.of(req.body).string])
        }
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let blob = TestImages.noise(3_000_000, seed: 7)
        try Data(blob).write(to: URL(fileURLWithPath: dir.path + "/blob"))
        let t = CurlTransport(timeout: 30)
        let put = try await t.send(
            HTTPRequest(
                method: "PUT", url: Self.url(server, "/up?digest=x"),
                headers: ["Content-Length": String(blob.count), "Authorization": "Bearer tok"],
                body: .file(dir.path + "/blob")), maxBodyBytes: 1 << 16)
        #expect(put.status == 201)
        #expect(put.header("Docker-Content-Digest") == Digest.of(blob).string)
        let chunk = Array(blob.prefix(10_000))
        let patch = try await t.send(
            HTTPRequest(
                method: "PATCH", url: Self.url(server, "/up"),
                headers: ["Content-Range": "0-9999", "Content-Length": "10000"],
                body: .bytes(chunk)), maxBodyBytes: 1 << 16)
        #expect(patch.status == 201)
        let post = try await t.send(
            HTTPRequest(method: "POST", url: Self.url(server, "/start"), headers: ["Content-Length": "0"]),
            maxBodyBytes: 1 << 16)
        #expect(post.status == 201)
        let r = seen.all
        try #require(r.count == 3)
        #expect(r[0].method == "PUT" && r[0].body == blob)
        #expect(r[0].header("content-length") == String(blob.count))
        #expect(r[0].header("authorization") == "Bearer tok")
        #expect(r[0].header("expect") == nil)
        #expect(r[1].method == "PATCH" && r[1].body == chunk && r[1].header("content-range") == "0-9999")
        #expect(r[1].header("content-length") == "10000")
        #expect(r[2].method == "POST" && r[2].body.isEmpty && r[2].header("content-length") == "0")
    }

    @Test func downloadsAreHashedAndErrorBodiesBounded() async throws {
        let blob = TestImages.noise(2_500_000, seed: 8)
        let big = [UInt8](repeating: 0x41, count: 3 << 20)
        let server = try FakeHTTPServer { req in
            switch req.path {
            case "/blob": return .init(status: 200, body: blob)
            case "/empty": return .init(status: 200)
            case "/missing": return .init(status: 404, body: big)
            case "/head": return .init(status: 200, headers: ["X-Size": "12"], body: Array("twelve bytes".utf8))
            default: return .init(status: 500, body: big)
            }
        }
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let t = CurlTransport(timeout: 30)

        let ok = try await t.download(HTTPRequest(method: "GET", url: Self.url(server, "/blob")), to: dir.path + "/b")
        #expect(ok.response.status == 200 && ok.size == Int64(blob.count) && ok.digest == Digest.of(blob))
        #expect(ok.response.body.isEmpty)
        #expect(FileManager.default.contents(atPath: dir.path + "/b").map(Array.init) == blob)

        let empty = try await t.download(
            HTTPRequest(method: "GET", url: Self.url(server, "/empty")), to: dir.path + "/e")
        #expect(empty.size == 0 && empty.digest == Digest.of([]))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/e"))

        // An error answer is kept in memory, truncated, and nothing is written.
        let missing = try await t.download(
            HTTPRequest(method: "GET", url: Self.url(server, "/missing")), to: dir.path + "/m")
        #expect(missing.response.status == 404 && missing.digest == nil)
        #expect(missing.response.body.count == 1 << 20)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/m"))

        // In-memory bodies beyond the caller's limit are an error.
        let e = await #expect(throws: OCIWriterError.self) {
            _ = try await t.send(HTTPRequest(method: "GET", url: Self.url(server, "/other")), maxBodyBytes: 1000)
        }
        #expect(e?.code == .limitExceeded)

        let head = try await t.send(HTTPRequest(method: "HEAD", url: Self.url(server, "/head")), maxBodyBytes: 1000)
        #expect(
            head.status == 200 && head.body.isEmpty && head.header("content-length") == "12"
                && head.header("x-size") == "12")
    }

    @Test func redirectsFollowMethodRulesAndKeepBodies() async throws {
        let seen = Seen()
        let server = try FakeHTTPServer { req in
            seen.add(req)
            switch req.path {
            case "/post": return .init(status: 303, headers: ["Location": "/after-post"])
            case "/put": return .init(status: 308, headers: ["Location": "/put-here?sig=a%2Bb"])
            case "/loop": return .init(status: 302, headers: ["Location": "/loop"])
            default: return .init(status: 200, body: Array(req.method.utf8))
            }
        }
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let body = TestImages.noise(100_000, seed: 9)
        try Data(body).write(to: URL(fileURLWithPath: dir.path + "/f"))
        let t = CurlTransport(timeout: 30)

        let p = try await t.send(
            HTTPRequest(
                method: "POST", url: Self.url(server, "/post"), headers: ["Content-Type": "x/y"],
                body: .bytes([1, 2, 3])), maxBodyBytes: 1000)
        #expect(p.status == 200 && p.body == Array("GET".utf8))
        #expect(p.url.path == "/after-post")
        let u = try await t.send(
            HTTPRequest(method: "PUT", url: Self.url(server, "/put"), body: .file(dir.path + "/f")), maxBodyBytes: 1000)
        #expect(u.status == 200 && u.body == Array("PUT".utf8))
        let r = seen.all
        #expect(
            r.first { $0.path == "/after-post" }.map {
                $0.method == "GET" && $0.body.isEmpty && $0.header("content-type") == nil
            } == true)
        #expect(r.first { $0.path == "/put-here?sig=a%2Bb" }.map { $0.method == "PUT" && $0.body == body } == true)

        let e = await #expect(throws: OCIWriterError.self) {
            _ = try await t.send(HTTPRequest(method: "GET", url: Self.url(server, "/loop")), maxBodyBytes: 1000)
        }
        #expect(e?.code == .registry && e?.message.contains("too many redirects") == true)
    }

    @Test func stallsTimeOutAndRefusedConnectionsAreNetworkErrors() async throws {
        let server = try FakeHTTPServer { _ in
            sleep(6)
            return .init(status: 200)
        }
        defer { server.stop() }
        let t = CurlTransport(timeout: 1)
        let e = await #expect(throws: OCIWriterError.self) {
            _ = try await t.send(HTTPRequest(method: "GET", url: Self.url(server, "/slow")), maxBodyBytes: 1000)
        }
        #expect(e?.code == .network && e?.message.contains("timed out") == true, "\(String(describing: e))")

        let refused = await #expect(throws: OCIWriterError.self) {
            _ = try await t.send(
                HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:9/v2/")!), maxBodyBytes: 1000)
        }
        #expect(refused?.code == .network && refused?.message.contains("127.0.0.1:9") == true)
    }

    @Test func cancellationStopsATransferAndLeavesNoFile() async throws {
        let server = try FakeHTTPServer { _ in
            sleep(8)
            return .init(status: 200, body: [1, 2, 3])
        }
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let t = CurlTransport(timeout: 60)
        let path = dir.path + "/never"
        let task = Task { try await t.download(HTTPRequest(method: "GET", url: Self.url(server, "/x")), to: path) }
        try await Task.sleep(nanoseconds: 300_000_000)
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func tlsPeersAreVerifiedAgainstTheCAStore() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let key = dir.path + "/k.pem", cert = dir.path + "/c.pem"
        let (st, out) = try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"
            ])
        try #require(st == 0, "\(out)")
        let port = try Net.freePort()
        let server = try ServerProcess(
            "/usr/bin/openssl", ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-www"],
            log: dir.path + "/s_server.log")
        defer { server.stop() }
        try Net.waitForPort(port, process: server.process)
        let url = URL(string: "https://127.0.0.1:\(port)/")!
        // A self-signed certificate is not in the system store: refused, with a hint.
        let e = await #expect(throws: OCIWriterError.self) {
            _ = try await CurlTransport(timeout: 10).send(HTTPRequest(method: "GET", url: url), maxBodyBytes: 1 << 20)
        }
        #expect(
            e?.code == .network && e?.message.contains("TLS verification of 127.0.0.1:\(port) failed") == true,
            "\(String(describing: e))")
        // Trusted through an explicit CA bundle, the same server answers.
        let r = try await CurlTransport(timeout: 10, caFile: cert).send(
            HTTPRequest(method: "GET", url: url), maxBodyBytes: 1 << 20)
        #expect(r.status == 200)
    }
}
