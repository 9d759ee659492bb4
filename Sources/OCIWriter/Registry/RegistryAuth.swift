import Foundation

/// A `WWW-Authenticate` challenge: scheme plus parameters (`realm`, `service`, `scope`, `error`).
struct AuthChallenge: Sendable, Equatable {
    var scheme: String
    var params: [String: String]

    /// Parses `Bearer realm="…",service="…"` (first challenge only; quoted values may contain commas).
    init?(header: String) {
        let s = header.trimmingCharacters(in: .whitespaces)
        guard let sp = s.firstIndex(of: " ") else {
            if s.isEmpty { return nil }
            scheme = s.lowercased()
            params = [:]
            return
        }
        scheme = s[..<sp].lowercased()
        var params: [String: String] = [:]
        var i = s.index(after: sp)
        while i < s.endIndex {
            while i < s.endIndex, s[i] == " " || s[i] == "," { i = s.index(after: i) }
            guard let eq = s[i...].firstIndex(of: "=") else { break }
            let key = s[i..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            i = s.index(after: eq)
            var value = ""
            if i < s.endIndex, s[i] == "\"" {
                i = s.index(after: i)
                while i < s.endIndex, s[i] != "\"" {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { i = s.index(after: i) }
                    value.append(s[i])
                    i = s.index(after: i)
                }
                if i < s.endIndex { i = s.index(after: i) }
            } else {
                while i < s.endIndex, s[i] != "," {
                    value.append(s[i])
                    i = s.index(after: i)
                }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            params[key] = value
        }
        self.params = params
    }
}

/// A bearer token and the times it stops being usable.
struct CachedToken: Sendable, Equatable {
    var value: String
    /// When the token server says the token expires.
    var expiresAt: Date
    /// When to fetch a new one instead of sending this (shortly before `expiresAt`).
    var refreshAt: Date

    /// Lifetime when the token server gives no `expires_in` (distribution's token spec).
    static let defaultLifetime: TimeInterval = 60

    /// The lifetime of a token received at `now`: `expires_in` (default 60 s) counted from `issued_at` when that is
    /// plausible (not in the future and not already past the whole lifetime, either of which means the clocks
    /// disagree), else from `now`. A token is refreshed when a fifth of its lifetime (at most 10 s) remains.
    init(value: String, expiresIn: TimeInterval?, issuedAt: Date?, now: Date) {
        self.value = value
        var lifetime = Self.defaultLifetime
        if let e = expiresIn, e > 0 { lifetime = e }
        var start = now
        if let issuedAt, issuedAt <= now, issuedAt.addingTimeInterval(lifetime) > now { start = issuedAt }
        expiresAt = start.addingTimeInterval(lifetime)
        refreshAt = expiresAt.addingTimeInterval(-min(10, lifetime / 5))
    }

    func needsRefresh(at now: Date) -> Bool { now >= refreshAt }
}

/// The JSON a token server answers: `token` or `access_token`, optional `expires_in`, `issued_at`, `refresh_token`.
struct TokenResponse: Sendable, Equatable {
    var token: String
    var expiresIn: TimeInterval?
    var issuedAt: Date?
    var refreshToken: String?

    init?(json body: [UInt8]) {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        let t = (obj["token"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? (obj["access_token"] as? String)
        guard let t, !t.isEmpty else { return nil }
        token = t
        expiresIn = (obj["expires_in"] as? NSNumber)?.doubleValue ?? (obj["expires_in"] as? String).flatMap(Double.init)
        issuedAt = (obj["issued_at"] as? String).flatMap(Self.parseDate)
        refreshToken = (obj["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// RFC 3339 with or without fractional seconds.
    static func parseDate(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}

/// `application/x-www-form-urlencoded` encoding of a POST body.
enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        func enc(_ s: String) -> String {
            // RFC 3986 unreserved characters stay literal; everything else is %XX of its UTF-8 bytes.
            s.unicodeScalars.map { u -> String in
                if u.isASCII, allowed.contains(u) { return String(u) }
                return String(u).utf8.map { String(format: "%%%02X", $0) }.joined()
            }.joined()
        }
        return Array(fields.map { enc($0.0) + "=" + enc($0.1) }.joined(separator: "&").utf8)
    }
}

/// Authorization state for one registry: the scheme it asked for and bearer tokens cached per scope.
///
/// Tokens are kept until shortly before they expire (`expires_in`/`issued_at`, 60 s by default) and then fetched
/// again before use, so long pushes do not run into 401s; a 401 for a cached token fetches a new one too.
/// With an identity token (docker `config.json` `identitytoken`, an OAuth2 refresh token) tokens are obtained with
/// the OAuth2 POST flow (`grant_type=refresh_token`); a token server that answers that POST with 404 or 405 is asked
/// with GET and Basic credentials instead, as distribution's token spec allows.
actor RegistryAuthenticator {
    enum Scheme: Sendable {
        case unknown, anonymous, basic
        case bearer(realm: URL, service: String?)
    }

    /// The `client_id` sent in OAuth2 token requests.
    static let clientID = "ociforge"

    let registry: String
    let credential: RegistryCredential?
    let transport: HTTPTransport
    let now: @Sendable () -> Date
    private var scheme: Scheme = .unknown
    private var tokens: [String: CachedToken] = [:]
    /// Token fetches in progress, per scope: concurrent requests wait for the same fetch.
    private var pending: [String: Task<CachedToken, Error>] = [:]
    /// Tokens fetched but not yet accepted by the registry.
    private var freshTokens: Set<String> = []
    /// The OAuth2 refresh token in use (the identity token, or the newer one a token server handed back).
    private var refreshToken: String?
    /// Token realms that answered the OAuth2 POST with 404/405: asked with GET from then on.
    private var realmsWithoutOAuth: Set<URL> = []
    /// Token requests sent and 401 challenges answered (tests and diagnostics read them).
    private(set) var tokenFetches = 0
    private(set) var challenges = 0

    init(
        registry: String, credential: RegistryCredential?, transport: HTTPTransport,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.registry = registry
        self.credential = credential
        self.transport = transport
        self.now = now
        self.refreshToken = credential?.identityToken
    }

    /// The `Authorization` value to send for `scope`, if one is known.
    func header(scope: [String]) -> String? {
        switch scheme {
        case .unknown, .anonymous: return nil
        case .basic: return credential?.basicHeader
        case .bearer: return tokens[scope.joined(separator: " ")].map { "Bearer " + $0.value }
        }
    }

    /// Handles a 401: learns the scheme and fetches a token. `sent` is the header that was rejected.
    /// Throws when retrying cannot help (bad credentials, no credentials for Basic).
    func handleUnauthorized(_ response: HTTPResponse, scope: [String], sent: String?, operation: String) async throws {
        challenges += 1
        guard let value = response.header("www-authenticate"), let ch = AuthChallenge(header: value) else {
            throw OCIWriterError(
                .authentication,
                "registry \(registry): \(operation) was refused (HTTP 401) without an authentication challenge")
        }
        switch ch.scheme {
        case "basic":
            guard let credential else {
                throw OCIWriterError(
                    .authentication,
                    "registry \(registry) requires a username and password for \(operation): run 'ociforge login \(registry)' or pass --username/--password (or REGISTRY_USERNAME/REGISTRY_PASSWORD)"
                )
            }
            if sent != nil {
                throw OCIWriterError(
                    .authentication,
                    "registry \(registry) rejected the username or password of '\(credential.username)' for \(operation) (HTTP 401 UNAUTHORIZED)"
                )
            }
            scheme = .basic
        case "bearer":
            guard let realmString = ch.params["realm"], let realm = URL(string: realmString),
                realm.scheme == "https" || realm.scheme == "http"
            else {
                throw OCIWriterError(
                    .authentication, "registry \(registry) sent a Bearer challenge without a usable realm")
            }
            let key = scope.joined(separator: " ")
            if let sent, sent.hasPrefix("Bearer "),
                ch.params["error"] == "insufficient_scope" || freshTokens.contains(String(sent.dropFirst(7)))
            {
                // The registry says the token lacks the access (`error="insufficient_scope"`), or a token fetched just
                // now for exactly this scope was refused: the token server granted less than asked, and asking again
                // gives the same. (A cached token refused otherwise may merely have expired: it is fetched again
                // below.) Freshness alone is not enough when requests run in parallel: a token that a read-only
                // request in the same scope got accepted stops being "fresh" before a push is refused with it.
                tokens[key] = nil
                let err = ch.params["error"] ?? "insufficient_scope"
                let who =
                    credential.map { " to '\($0.username)'" } ?? "; anonymous tokens are often pull-only: log in first"
                throw OCIWriterError(
                    .authentication,
                    "registry \(registry) refused the token for \(operation) (\(err)): the token server did not grant '\(key)'\(who)"
                )
            }
            scheme = .bearer(realm: realm, service: ch.params["service"])
            if let sent, tokens[key].map({ "Bearer " + $0.value }) == sent { tokens[key] = nil }
            _ = try await token(
                realm: realm, service: ch.params["service"], scope: scope, operation: operation,
                reuse: tokens[key] != nil)
        default:
            throw OCIWriterError(
                .authentication, "registry \(registry) asks for unsupported authentication scheme '\(ch.scheme)'")
        }
    }

    /// Fetches a token for `scope` before use when the scheme is already known to be Bearer and no cached token is
    /// usable (none yet, or one about to expire).
    func prepare(scope: [String], operation: String) async throws {
        guard case .bearer(let realm, let service) = scheme else { return }
        let key = scope.joined(separator: " ")
        if let t = tokens[key], !t.needsRefresh(at: now()) { return }
        _ = try await token(realm: realm, service: service, scope: scope, operation: operation, reuse: false)
    }

    /// A new token for `scope`, shared with a fetch already in progress for the same scope.
    /// `reuse`: another request replaced a rejected token meanwhile; use it.
    private func token(realm: URL, service: String?, scope: [String], operation: String, reuse: Bool) async throws
        -> CachedToken
    {
        let key = scope.joined(separator: " ")
        if reuse, let t = tokens[key], !t.needsRefresh(at: now()) { return t }
        if let p = pending[key] { return try await p.value }
        // The task stores the token itself, before anyone awaiting it resumes: a waiter that then asks for the
        // header must find it.
        let task = Task {
            try await self.fetchAndStore(key: key, realm: realm, service: service, scope: scope, operation: operation)
        }
        pending[key] = task
        return try await task.value
    }

    private func fetchAndStore(key: String, realm: URL, service: String?, scope: [String], operation: String)
        async throws -> CachedToken
    {
        defer { pending[key] = nil }
        let t = try await fetchToken(realm: realm, service: service, scope: scope, operation: operation)
        tokens[key] = t
        freshTokens.insert(t.value)
        return t
    }

    /// The registry accepted `header`: its token is no longer "fresh" (a later 401 means it expired).
    func accepted(_ header: String?) {
        if let h = header, h.hasPrefix("Bearer ") { freshTokens.remove(String(h.dropFirst(7))) }
    }

    func noteAnonymous() { if case .unknown = scheme { scheme = .anonymous } }

    private func fetchToken(realm: URL, service: String?, scope: [String], operation: String) async throws
        -> CachedToken
    {
        tokenFetches += 1
        if let rt = refreshToken, !realmsWithoutOAuth.contains(realm) {
            if let t = try await fetchTokenOAuth(
                realm: realm, service: service, scope: scope, refreshToken: rt, operation: operation)
            {
                return t
            }
            // 404/405: the token server only knows the GET flow.
            realmsWithoutOAuth.insert(realm)
        }
        return try await fetchTokenGET(realm: realm, service: service, scope: scope, operation: operation)
    }

    private func realmHost(_ realm: URL) -> String { realm.host ?? "?" }

    /// OAuth2 `grant_type=refresh_token` POST; nil when the server answers 404 or 405 (no OAuth2 support).
    private func fetchTokenOAuth(
        realm: URL, service: String?, scope: [String], refreshToken rt: String,
        operation: String
    ) async throws -> CachedToken? {
        var fields = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", Self.clientID)]
        if let service { fields.append(("service", service)) }
        if !scope.isEmpty { fields.append(("scope", scope.joined(separator: " "))) }
        let req = HTTPRequest(
            method: "POST", url: realm,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: .bytes(FormEncoding.encode(fields)))
        let resp = try await sendTokenRequest(req, realm: realm, operation: operation)
        switch resp.status {
        case 200:
            break
        case 404, 405:
            return nil
        case 400, 401, 403:
            // Never echo the token; the server's error code (invalid_grant, …) says why.
            throw OCIWriterError(
                .authentication,
                "registry \(registry): token server \(realmHost(realm)) rejected the identity token (OAuth2 refresh token) for \(operation) (HTTP \(resp.status)\(RegistryErrorBody.summary(resp.body).map { " " + $0 } ?? "")): log in again"
            )
        case 408, 429, 500...599:
            throw RetryableFailure(
                OCIWriterError(
                    .network,
                    "registry \(registry): token server \(realmHost(realm)) answered HTTP \(resp.status) for \(operation)"
                ))
        default:
            throw OCIWriterError(
                .authentication,
                "registry \(registry): token server \(realmHost(realm)) answered HTTP \(resp.status) to the OAuth2 token request for \(operation)"
            )
        }
        return try parse(resp, realm: realm)
    }

    private func fetchTokenGET(realm: URL, service: String?, scope: [String], operation: String) async throws
        -> CachedToken
    {
        guard var comps = URLComponents(url: realm, resolvingAgainstBaseURL: false) else {
            throw OCIWriterError(.authentication, "registry \(registry): invalid token realm")
        }
        var items = comps.queryItems ?? []
        if let service { items.append(URLQueryItem(name: "service", value: service)) }
        for s in scope { items.append(URLQueryItem(name: "scope", value: s)) }
        comps.queryItems = items
        guard let url = comps.url else {
            throw OCIWriterError(.authentication, "registry \(registry): invalid token realm")
        }
        var headers = ["Accept": "application/json"]
        if let credential { headers["Authorization"] = credential.basicHeader }
        let resp = try await sendTokenRequest(
            HTTPRequest(method: "GET", url: url, headers: headers), realm: realm, operation: operation)
        switch resp.status {
        case 200:
            break
        case 401, 403:
            let who =
                credential.map {
                    $0.identityToken != nil
                        ? "the identity token of '\($0.username)'" : "the username or password of '\($0.username)'"
                } ?? "anonymous access"
            throw OCIWriterError(
                .authentication,
                "registry \(registry): token server \(realmHost(realm)) rejected \(who) for \(operation) (HTTP \(resp.status)\(RegistryErrorBody.summary(resp.body).map { " " + $0 } ?? ""))"
            )
        case 408, 429, 500...599:
            throw RetryableFailure(
                OCIWriterError(
                    .network,
                    "registry \(registry): token server \(realmHost(realm)) answered HTTP \(resp.status) for \(operation)"
                ))
        default:
            throw OCIWriterError(
                .authentication,
                "registry \(registry): token server \(realmHost(realm)) answered HTTP \(resp.status) for \(operation)")
        }
        return try parse(resp, realm: realm)
    }

    private func sendTokenRequest(_ req: HTTPRequest, realm: URL, operation: String) async throws -> HTTPResponse {
        do {
            return try await transport.send(req, maxBodyBytes: 1 << 20)
        } catch let e as OCIWriterError {
            throw RetryableFailure(
                OCIWriterError(
                    .network,
                    "registry \(registry): token server \(realmHost(realm)) unreachable for \(operation): \(e.message)")
            )
        }
    }

    private func parse(_ resp: HTTPResponse, realm: URL) throws -> CachedToken {
        guard let r = TokenResponse(json: resp.body) else {
            throw OCIWriterError(
                .authentication,
                "registry \(registry): token server \(realmHost(realm)) answered without 'token' or 'access_token'")
        }
        if let newRefresh = r.refreshToken, refreshToken != nil { refreshToken = newRefresh }
        return CachedToken(value: r.token, expiresIn: r.expiresIn, issuedAt: r.issuedAt, now: now())
    }
}

/// A failure worth retrying (timeouts, dropped connections, 408/429/5xx).
struct RetryableFailure: Error {
    var error: OCIWriterError
    var retryAfter: Double?
    init(_ error: OCIWriterError, retryAfter: Double? = nil) {
        self.error = error
        self.retryAfter = retryAfter
    }
}

/// The `{"errors":[{"code":…,"message":…}]}` body of a registry error.
enum RegistryErrorBody {
    static func summary(_ body: [UInt8]) -> String? {
        guard !body.isEmpty, let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return nil
        }
        if let errors = obj["errors"] as? [[String: Any]], !errors.isEmpty {
            return errors.map { e in
                let code = e["code"] as? String ?? "UNKNOWN"
                let msg = e["message"] as? String
                return msg.map { "\(code): \($0)" } ?? code
            }.joined(separator: "; ")
        }
        if let d = obj["details"] as? String { return d }
        if let e = obj["error"] as? String { return e }
        return nil
    }
}
