import Foundation
import Testing

@testable import OCIWriter

/// Protocol corners distribution 2.8 cannot produce, against an in-process fake registry.
@Suite("Registry protocol corners (in-process fake registry)", .timeLimit(.minutes(10)))
struct RegistryFakeServerTests {
    final class UploadState: @unchecked Sendable {
        let lock = NSLock()
        var data: [UInt8] = []
        var token = 0
        var patches: [String] = []
        var sent416 = 0
        var stored: [String: [UInt8]] = [:]
        var staleRejected = 0
    }

    static func query(_ path: String, _ name: String) -> String? {
        URLComponents(string: "http://x" + path)?.queryItems?.first(where: { $0.name == name })?.value
    }

    @Test func chunkedUploadResumesFromReportedRangeAndAfter416() async throws {
        let st = UploadState()
        let blob = TestImages.noise(1_000_000, seed: 99)
        let digest = Digest.of(blob)
        let portBox = PortBox()
        let server = try FakeHTTPServer { req in
            st.lock.withLock {
                let path = req.path
                let base = path.split(separator: "?").first.map(String.init) ?? path
                func loc(absolute: Bool) -> String {
                    st.token += 1
                    let rel = "/v2/r/blobs/uploads/u1?_state=tok\(st.token)&keep=yes"
                    return absolute ? "http://127.0.0.1:\(portBox.port)" + rel : rel
                }
                func current() -> Bool {
                    Self.query(path, "_state") == "tok\(st.token)" && Self.query(path, "keep") == "yes"
                }
                switch (req.method, base) {
                case ("GET", "/v2/"): return .init(status: 200)
                case ("HEAD", _) where base.hasPrefix("/v2/r/blobs/sha256:"):
                    return .init(status: st.stored[String(base.dropFirst("/v2/r/blobs/".count))] != nil ? 200 : 404)
                case ("POST", "/v2/r/blobs/uploads/"):
                    st.data = []
                    return .init(status: 202, headers: ["Location": loc(absolute: false)])
                case ("PATCH", "/v2/r/blobs/uploads/u1"):
                    guard current() else {
                        st.staleRejected += 1
                        return .init(status: 400)
                    }
                    let cr = req.header("content-range") ?? "?"
                    st.patches.append(cr)
                    let start = Int(cr.split(separator: "-").first ?? "") ?? -1
                    guard start == st.data.count else {
                        return .init(
                            status: 416, headers: ["Range": "0-\(st.data.count - 1)", "Location": loc(absolute: true)])
                    }
                    if st.patches.count == 3 && st.sent416 == 0 {
                        st.sent416 += 1
                        return .init(
                            status: 416, headers: ["Range": "0-\(st.data.count - 1)", "Location": loc(absolute: true)])
                    }
                    // The first chunk is only half taken: the client must continue from the reported range.
                    let take = st.patches.count == 1 ? req.body.count / 2 : req.body.count
                    st.data += req.body.prefix(take)
                    return .init(
                        status: 202,
                        headers: [
                            "Range": "0-\(st.data.count - 1)", "Location": loc(absolute: st.patches.count % 2 == 0)
                        ])
                case ("GET", "/v2/r/blobs/uploads/u1"):
                    guard current() else {
                        st.staleRejected += 1
                        return .init(status: 400)
                    }
                    return .init(
                        status: 204, headers: ["Range": "0-\(st.data.count - 1)", "Location": loc(absolute: false)])
                case ("PUT", "/v2/r/blobs/uploads/u1"):
                    guard current() else {
                        st.staleRejected += 1
                        return .init(status: 400)
                    }
                    st.data += req.body
                    let want = Self.query(path, "digest") ?? ""
                    guard Digest.of(st.data).string == want else {
                        return .init(
                            status: 400,
                            body: Array(
                                #"{"errors":[{"code":"DIGEST_INVALID","message":"digest did not match"}]}"#.utf8))
                    }
                    st.stored[want] = st.data
                    return .init(
                        status: 201, headers: ["Docker-Content-Digest": want, "Location": "/v2/r/blobs/\(want)"])
                case ("DELETE", _): return .init(status: 204)
                default: return .init(status: 404)
                }
            }
        }
        portBox.port = server.port
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let file = dir.path + "/blob"
        try Data(blob).write(to: URL(fileURLWithPath: file))
        var o = RegistryOptions()
        o.monolithicUploadLimit = 0
        o.chunkSize = 256 << 10
        o.maxAttempts = 1
        let client = try RegistryClient(registry: "127.0.0.1:\(server.port)", credential: nil, options: o)
        let outcome = try await client.pushBlob(
            repository: "r", descriptor: Descriptor(mediaType: .ociLayer, digest: digest, size: Int64(blob.count)),
            file: file)
        #expect(outcome == .uploaded)
        st.lock.withLock {
            #expect(st.stored[digest.string] == blob)
            #expect(st.sent416 == 1)
            #expect(st.staleRejected == 0)
            // Chunk 1 was half accepted, so chunk 2 starts at 131072, not 262144.
            #expect(st.patches.count >= 5)
            #expect(st.patches[0] == "0-262143")
            #expect(st.patches[1] == "131072-393215")
        }
    }

    @Test func redirectToAnotherHostDropsAuthorization() async throws {
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var storageAuth: [String?] = []
            var sameHostAuth: [String?] = []
        }
        let seen = Seen()
        let blob = TestImages.noise(200_000, seed: 5)
        let blob2 = TestImages.noise(1_000, seed: 6)
        let d1 = Digest.of(blob), d2 = Digest.of(blob2)
        let portBox = PortBox()
        let server = try FakeHTTPServer { req in
            let base = req.path.split(separator: "?").first.map(String.init) ?? req.path
            if base.hasPrefix("/storage/") {
                seen.lock.withLock { seen.storageAuth.append(req.header("authorization")) }
                return .init(status: 200, body: blob)
            }
            if base.hasPrefix("/same/") {
                seen.lock.withLock { seen.sameHostAuth.append(req.header("authorization")) }
                guard req.header("authorization") != nil else {
                    return .init(status: 401, headers: ["WWW-Authenticate": "Basic realm=\"fake\""])
                }
                return .init(status: 200, body: blob2)
            }
            guard req.header("authorization") == "Basic " + Data("u:secret-pw".utf8).base64EncodedString() else {
                return .init(status: 401, headers: ["WWW-Authenticate": "Basic realm=\"fake\""])
            }
            if base == "/v2/r/blobs/\(d1)" {
                // "localhost" is another host name than 127.0.0.1 (same server, so it can see the header).
                return .init(
                    status: 307,
                    headers: ["Location": "http://localhost:\(portBox.port)/storage/\(d1.hex)?sig=abc%2Bdef"])
            }
            if base == "/v2/r/blobs/\(d2)" {
                return .init(status: 307, headers: ["Location": "http://127.0.0.1:\(portBox.port)/same/\(d2.hex)"])
            }
            return .init(status: 200)
        }
        portBox.port = server.port
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let client = try RegistryClient(
            registry: "127.0.0.1:\(server.port)", credential: RegistryCredential(username: "u", password: "secret-pw"))
        try await client.ping()
        try await client.downloadBlob(
            repository: "r", descriptor: Descriptor(mediaType: .ociLayer, digest: d1, size: Int64(blob.count)),
            to: dir.path + "/b1")
        #expect(FileManager.default.contents(atPath: dir.path + "/b1").map(Array.init) == blob)
        try await client.downloadBlob(
            repository: "r", descriptor: Descriptor(mediaType: .ociLayer, digest: d2, size: Int64(blob2.count)),
            to: dir.path + "/b2")
        seen.lock.withLock {
            #expect(seen.storageAuth == [nil])
            #expect(seen.sameHostAuth.first! != nil)
        }
    }

    final class PortBox: @unchecked Sendable { var port = 0 }

    /// A cached token that the registry stops accepting (expired) is fetched again once; `access_token` works.
    @Test func expiredBearerTokenIsRefreshed() async throws {
        final class TokenState: @unchecked Sendable {
            let lock = NSLock()
            var issued = 0
            var valid = ""
            var scopes: [String] = []
        }
        let ts = TokenState()
        let portBox = PortBox()
        let manifest = Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#
                .utf8)
        let server = try FakeHTTPServer { req in
            ts.lock.withLock {
                let base = req.path.split(separator: "?").first.map(String.init) ?? req.path
                if base == "/token" {
                    ts.issued += 1
                    ts.valid = "tok\(ts.issued)"
                    ts.scopes.append(Self.query(req.path, "scope") ?? "")
                    return .init(status: 200, body: Array(#"{"access_token":"\#(ts.valid)"}"#.utf8))
                }
                let challenge =
                    "Bearer realm=\"http://127.0.0.1:\(portBox.port)/token\",service=\"fake\",scope=\"repository:r:pull\""
                guard req.header("authorization") == "Bearer " + ts.valid else {
                    return .init(status: 401, headers: ["WWW-Authenticate": challenge])
                }
                if base == "/v2/r/manifests/v1" {
                    // This token "expires" after one use.
                    ts.valid = "expired"
                    return .init(status: 200, headers: ["Content-Type": MediaType.ociManifest.rawValue], body: manifest)
                }
                return .init(status: 404)
            }
        }
        portBox.port = server.port
        defer { server.stop() }
        let client = try RegistryClient(registry: "127.0.0.1:\(server.port)", credential: nil)
        let a = try await client.fetchManifest(repository: "r", reference: "v1")
        let b = try await client.fetchManifest(repository: "r", reference: "v1")
        #expect(a.digest == Digest.of(manifest) && b.digest == a.digest)
        ts.lock.withLock {
            #expect(ts.issued == 2)
            #expect(ts.scopes == ["repository:r:pull", "repository:r:pull"])
        }
    }
}
