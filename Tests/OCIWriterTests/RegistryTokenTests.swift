import Foundation
import Testing

@testable import OCIWriter

/// A transport answering from a script, recording every request (for the authenticator's token flows).
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [HTTPRequest] = []
    let answer: @Sendable (HTTPRequest, Int) -> HTTPResponse

    init(_ answer: @escaping @Sendable (HTTPRequest, Int) -> HTTPResponse) { self.answer = answer }

    var requests: [HTTPRequest] { lock.withLock { _requests } }

    func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws -> HTTPResponse {
        let n = lock.withLock { () -> Int in
            _requests.append(request)
            return _requests.count - 1
        }
        return answer(request, n)
    }

    func download(_ request: HTTPRequest, to path: String) async throws -> DownloadResult {
        DownloadResult(response: try await send(request, maxBodyBytes: 1 << 20), digest: nil, size: 0)
    }

    static func json(_ status: Int, _ obj: [String: Any], url: URL) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["content-type": "application/json"],
            body: Array(try! JSONSerialization.data(withJSONObject: obj)), url: url)
    }
}

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var t: Date
    init(_ start: Date) { t = start }
    var now: Date { lock.withLock { t } }
    func advance(_ s: TimeInterval) { lock.withLock { t = t.addingTimeInterval(s) } }
}

@Suite("Registry tokens: lifetime, OAuth2 refresh-token flow, identity tokens")
struct RegistryTokenTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func lifetimeDefaultsAndRefreshMargin() {
        let d = CachedToken(value: "a", expiresIn: nil, issuedAt: nil, now: Self.t0)
        #expect(d.expiresAt == Self.t0.addingTimeInterval(60))
        #expect(d.refreshAt == Self.t0.addingTimeInterval(50))
        #expect(!d.needsRefresh(at: Self.t0.addingTimeInterval(49)))
        #expect(d.needsRefresh(at: Self.t0.addingTimeInterval(50)))

        let long = CachedToken(value: "b", expiresIn: 300, issuedAt: nil, now: Self.t0)
        #expect(long.expiresAt == Self.t0.addingTimeInterval(300))
        #expect(long.refreshAt == Self.t0.addingTimeInterval(290))

        // Short tokens are refreshed when a fifth of their life remains.
        let short = CachedToken(value: "c", expiresIn: 2, issuedAt: nil, now: Self.t0)
        #expect(short.refreshAt == Self.t0.addingTimeInterval(1.6))
        // Zero or negative lifetimes fall back to the spec's 60 s.
        #expect(
            CachedToken(value: "d", expiresIn: 0, issuedAt: nil, now: Self.t0).expiresAt
                == Self.t0.addingTimeInterval(60))
    }

    @Test func issuedAtCountsOnlyWhenPlausible() {
        // Issued 20 s before we got it: it expires 20 s earlier.
        let past = CachedToken(value: "a", expiresIn: 60, issuedAt: Self.t0.addingTimeInterval(-20), now: Self.t0)
        #expect(past.expiresAt == Self.t0.addingTimeInterval(40))
        // In the future (server clock ahead): counted from now.
        let future = CachedToken(value: "b", expiresIn: 60, issuedAt: Self.t0.addingTimeInterval(500), now: Self.t0)
        #expect(future.expiresAt == Self.t0.addingTimeInterval(60))
        // Already past its whole lifetime (server clock behind): counted from now instead of never caching.
        let stale = CachedToken(value: "c", expiresIn: 60, issuedAt: Self.t0.addingTimeInterval(-3600), now: Self.t0)
        #expect(stale.expiresAt == Self.t0.addingTimeInterval(60))
    }

    @Test func tokenResponseParsing() throws {
        let a = try #require(
            TokenResponse(
                json: Array(
                    #"{"token":"T1","access_token":"T2","expires_in":120,"issued_at":"2027-01-15T08:00:00.123Z"}"#.utf8)
            ))
        #expect(a.token == "T1" && a.expiresIn == 120)
        let b = try #require(
            TokenResponse(
                json: Array(#"{"access_token":"T2","refresh_token":"R2","issued_at":"2027-01-15T08:00:00Z"}"#.utf8)))
        #expect(b.token == "T2" && b.expiresIn == nil && b.refreshToken == "R2")
        #expect(b.issuedAt == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(abs((a.issuedAt?.timeIntervalSince1970 ?? 0) - 1_800_000_000.123) < 0.001)
        #expect(TokenResponse(json: Array(#"{"token":""}"#.utf8)) == nil)
        #expect(TokenResponse(json: Array("not json".utf8)) == nil)
    }

    @Test func formEncoding() {
        let body = String(
            decoding: FormEncoding.encode([
                ("grant_type", "refresh_token"), ("scope", "repository:a/b:push,pull x"),
                ("refresh_token", "a+b/c=d&é")
            ]), as: UTF8.self)
        #expect(
            body
                == "grant_type=refresh_token&scope=repository%3Aa%2Fb%3Apush%2Cpull%20x&refresh_token=a%2Bb%2Fc%3Dd%26%C3%A9"
        )
    }

    @Test func identityTokenFromDockerConfigAndHelperConvention() throws {
        let dir = try TempDir("ociforge-idtok")
        defer { dir.remove() }
        let auth = Data("alice:".utf8).base64EncodedString()
        try
            #"{"auths":{"registry.example.com":{"auth":"\#(auth)","identitytoken":"refresh-XYZ"},"other.example.com":{"identitytoken":"tok2"}}}"#
            .write(toFile: dir.path + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["HOME": dir.path, "DOCKER_CONFIG": dir.path])
        let c = try #require(try store.lookup(registry: "registry.example.com"))
        #expect(c.username == "alice" && c.identityToken == "refresh-XYZ" && c.password.isEmpty)
        #expect(!c.description.contains("refresh-XYZ") && !"\(c)".contains("refresh-XYZ"))
        let o = try #require(try store.lookup(registry: "other.example.com"))
        #expect(o.username == RegistryCredential.identityTokenUsername && o.identityToken == "tok2")
        // Saving keeps the token as an identity token.
        try store.save(
            RegistryCredential(username: "bob", password: "", identityToken: "tok3"), registry: "third.example.com")
        let t = try #require(try store.lookup(registry: "third.example.com"))
        #expect(t.username == "bob" && t.identityToken == "tok3")
    }

    static let realm = URL(string: "https://auth.example.com/token")!

    static func challenge() -> HTTPResponse {
        HTTPResponse(
            status: 401,
            headers: ["www-authenticate": #"Bearer realm="https://auth.example.com/token",service="reg.example.com""#],
            body: [], url: URL(string: "https://reg.example.com/v2/")!)
    }

    static func form(_ r: HTTPRequest) -> [String: String] {
        guard case .bytes(let b) = r.body else { return [:] }
        var out: [String: String] = [:]
        for pair in String(decoding: b, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    @Test func oauthRefreshTokenFlowAndProactiveRefresh() async throws {
        let clock = ManualClock(Self.t0)
        let transport = ScriptedTransport { req, n in
            ScriptedTransport.json(
                200, ["access_token": "AT\(n)", "expires_in": 30, "refresh_token": "R\(n)"], url: req.url)
        }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com",
            credential: RegistryCredential(username: "alice", password: "", identityToken: "R-initial"),
            transport: transport, now: { clock.now })
        let scope = ["repository:team/app:pull"]
        try await auth.handleUnauthorized(Self.challenge(), scope: scope, sent: nil, operation: "test")
        #expect(await auth.header(scope: scope) == "Bearer AT0")
        let first = try #require(transport.requests.first)
        #expect(first.method == "POST" && first.url == Self.realm)
        #expect(first.headers["Content-Type"] == "application/x-www-form-urlencoded")
        #expect(first.headers["Authorization"] == nil)
        let f = Self.form(first)
        #expect(f["grant_type"] == "refresh_token" && f["refresh_token"] == "R-initial" && f["client_id"] == "ociforge")
        #expect(f["service"] == "reg.example.com" && f["scope"] == "repository:team/app:pull")

        // Still valid: no new request.
        clock.advance(20)
        try await auth.prepare(scope: scope, operation: "test")
        #expect(transport.requests.count == 1)
        // Within the refresh margin (30 s token: refreshed 6 s before expiry): fetched before use, with the
        // refresh token the server handed back last time.
        clock.advance(5)
        try await auth.prepare(scope: scope, operation: "test")
        #expect(transport.requests.count == 2)
        #expect(Self.form(transport.requests[1])["refresh_token"] == "R0")
        #expect(await auth.header(scope: scope) == "Bearer AT1")
        #expect(await auth.tokenFetches == 2)
        #expect(await auth.challenges == 1)

        // Concurrent requests for an expired token share one fetch.
        clock.advance(100)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<8 { g.addTask { try await auth.prepare(scope: scope, operation: "test") } }
            try await g.waitForAll()
        }
        #expect(transport.requests.count == 3)
    }

    /// Parallel requests all refused at first: one token request, and every one of them has the token to retry
    /// with as soon as its challenge is answered (a waiter must not resume before the token is stored).
    @Test func parallelChallengesShareOneTokenAndAllSeeIt() async throws {
        let transport = ScriptedTransport { req, n in
            usleep(20_000)
            return ScriptedTransport.json(200, ["token": "T\(n)"], url: req.url)
        }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com", credential: RegistryCredential(username: "u", password: "p"),
            transport: transport)
        let scope = ["repository:a/b:push,pull"]
        let headers = try await withThrowingTaskGroup(of: String?.self) { g in
            for _ in 0..<16 {
                g.addTask {
                    try await auth.handleUnauthorized(Self.challenge(), scope: scope, sent: nil, operation: "t")
                    return await auth.header(scope: scope)
                }
            }
            var out: [String?] = []
            for try await h in g { out.append(h) }
            return out
        }
        #expect(headers.count == 16 && headers.allSatisfy { $0 == "Bearer T0" }, "\(headers)")
        #expect(transport.requests.count == 1)
    }

    @Test func oauthUnsupportedFallsBackToBasicGET() async throws {
        let transport = ScriptedTransport { req, _ in
            if req.method == "POST" { return HTTPResponse(status: 405, headers: [:], body: [], url: req.url) }
            return ScriptedTransport.json(200, ["token": "GT"], url: req.url)
        }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com",
            credential: RegistryCredential(username: "alice", password: "", identityToken: "IDTOK"),
            transport: transport)
        let scope = ["repository:team/app:push,pull"]
        try await auth.handleUnauthorized(Self.challenge(), scope: scope, sent: nil, operation: "test")
        #expect(await auth.header(scope: scope) == "Bearer GT")
        let reqs = transport.requests
        #expect(reqs.map(\.method) == ["POST", "GET"])
        #expect(reqs[1].headers["Authorization"] == "Basic " + Data("alice:IDTOK".utf8).base64EncodedString())
        let q = URLComponents(url: reqs[1].url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        #expect(q.contains(URLQueryItem(name: "scope", value: "repository:team/app:push,pull")))
        #expect(q.contains(URLQueryItem(name: "service", value: "reg.example.com")))
        // The realm is remembered as GET-only: the next scope goes straight to GET.
        try await auth.prepare(scope: ["repository:team/other:pull"], operation: "test")
        #expect(transport.requests.map(\.method) == ["POST", "GET", "GET"])
    }

    @Test func credentialHelperTokenConvention() throws {
        let dir = try TempDir("ociforge-credhelper")
        defer { dir.remove() }
        let bin = try dir.sub("bin")
        // A docker-credential helper that answers with the `<token>` username: the secret is an identity token.
        try """
        #!/bin/sh
        read server
        if [ "$server" = "oauth.example.com" ]; then
          printf '{"ServerURL":"%s","Username":"<token>","Secret":"helper-refresh-token"}' "$server"
        else
          printf '{"ServerURL":"%s","Username":"dave","Secret":"dave-pw"}' "$server"
        fi
        """.write(toFile: bin + "/docker-credential-ocftest", atomically: true, encoding: .utf8)
        chmod(bin + "/docker-credential-ocftest", 0o755)
        try #"{"credHelpers":{"oauth.example.com":"ocftest","plain.example.com":"ocftest"}}"#
            .write(toFile: dir.path + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: [
            "HOME": dir.path, "DOCKER_CONFIG": dir.path, "PATH": bin + ":/usr/bin:/bin"
        ])
        let t = try #require(try store.lookup(registry: "oauth.example.com"))
        #expect(t.identityToken == "helper-refresh-token" && t.password.isEmpty)
        let p = try #require(try store.lookup(registry: "plain.example.com"))
        #expect(p.identityToken == nil && p.username == "dave" && p.password == "dave-pw")
    }

    @Test func rejectedRefreshTokenIsAClearErrorWithoutTheToken() async throws {
        let transport = ScriptedTransport { req, _ in
            ScriptedTransport.json(400, ["error": "invalid_grant"], url: req.url)
        }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com",
            credential: RegistryCredential(username: "alice", password: "", identityToken: "SECRET-REFRESH-123"),
            transport: transport)
        let e = try await #require(throws: OCIWriterError.self) {
            try await auth.handleUnauthorized(
                Self.challenge(), scope: ["repository:a/b:pull"], sent: nil, operation: "fetching manifest v1 in a/b")
        }
        #expect(e.code == .authentication)
        #expect(
            e.message.contains("reg.example.com") && e.message.contains("identity token")
                && e.message.contains("invalid_grant")
                && e.message.contains("fetching manifest v1 in a/b"), "\(e.message)")
        #expect(!e.message.contains("SECRET-REFRESH-123"))
    }

    /// `error="insufficient_scope"` ends the attempt even for a token already accepted by another request
    /// (parallel blob requests: a HEAD needs pull only, the upload needs push); `invalid_token` fetches a new one.
    @Test func insufficientScopeVersusExpiredToken() async throws {
        let transport = ScriptedTransport { req, n in ScriptedTransport.json(200, ["token": "T\(n)"], url: req.url) }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com", credential: RegistryCredential(username: "reader", password: "pw"),
            transport: transport)
        let scope = ["repository:a/b:push,pull"]
        try await auth.handleUnauthorized(Self.challenge(), scope: scope, sent: nil, operation: "t")
        await auth.accepted("Bearer T0")
        func challenge(_ error: String) -> HTTPResponse {
            HTTPResponse(
                status: 401,
                headers: [
                    "www-authenticate":
                        #"Bearer realm="https://auth.example.com/token",service="reg.example.com",scope="repository:a/b:push,pull",error="\#(error)""#
                ],
                body: [], url: URL(string: "https://reg.example.com/v2/a/b/blobs/uploads/")!)
        }
        // Expired: a new token, no error.
        try await auth.handleUnauthorized(challenge("invalid_token"), scope: scope, sent: "Bearer T0", operation: "t")
        #expect(await auth.header(scope: scope) == "Bearer T1")
        await auth.accepted("Bearer T1")
        // Lacking push: an error naming the scope and the user, no new token request.
        let e = try await #require(throws: OCIWriterError.self) {
            try await auth.handleUnauthorized(
                challenge("insufficient_scope"), scope: scope, sent: "Bearer T1", operation: "starting upload in a/b")
        }
        #expect(e.code == .authentication)
        #expect(
            e.message.contains("insufficient_scope") && e.message.contains("repository:a/b:push,pull")
                && e.message.contains("'reader'"), "\(e.message)")
        #expect(transport.requests.count == 2)
    }

    @Test func passwordCredentialsKeepTheGETFlow() async throws {
        let clock = ManualClock(Self.t0)
        let transport = ScriptedTransport { req, n in ScriptedTransport.json(200, ["token": "T\(n)"], url: req.url) }
        let auth = RegistryAuthenticator(
            registry: "reg.example.com", credential: RegistryCredential(username: "u", password: "p"),
            transport: transport, now: { clock.now })
        let scope = ["repository:a/b:pull"]
        try await auth.handleUnauthorized(Self.challenge(), scope: scope, sent: nil, operation: "t")
        #expect(transport.requests.map(\.method) == ["GET"])
        // No expires_in: 60 s, refreshed from 50 s on.
        clock.advance(49)
        try await auth.prepare(scope: scope, operation: "t")
        #expect(transport.requests.count == 1)
        clock.advance(2)
        try await auth.prepare(scope: scope, operation: "t")
        #expect(transport.requests.count == 2)
        #expect(await auth.header(scope: scope) == "Bearer T1")
    }
}
