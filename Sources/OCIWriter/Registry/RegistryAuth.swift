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
                while i < s.endIndex, s[i] != "," { value.append(s[i]); i = s.index(after: i) }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            params[key] = value
        }
        self.params = params
    }
}

/// Authorization state for one registry: the scheme it asked for and bearer tokens cached per scope.
actor RegistryAuthenticator {
    enum Scheme: Sendable { case unknown, anonymous, basic, bearer(realm: URL, service: String?) }

    let registry: String
    let credential: RegistryCredential?
    let transport: HTTPTransport
    private var scheme: Scheme = .unknown
    private var tokens: [String: String] = [:]
    /// Tokens fetched but not yet accepted by the registry.
    private var freshTokens: Set<String> = []

    init(registry: String, credential: RegistryCredential?, transport: HTTPTransport) {
        self.registry = registry
        self.credential = credential
        self.transport = transport
    }

    /// The `Authorization` value to send for `scope`, if one is known.
    func header(scope: [String]) -> String? {
        switch scheme {
        case .unknown, .anonymous: return nil
        case .basic: return credential?.basicHeader
        case .bearer: return tokens[scope.joined(separator: " ")].map { "Bearer " + $0 }
        }
    }

    /// Handles a 401: learns the scheme and fetches a token. `sent` is the header that was rejected.
    /// Throws when retrying cannot help (bad credentials, no credentials for Basic).
    func handleUnauthorized(_ response: HTTPResponse, scope: [String], sent: String?, operation: String) async throws {
        guard let value = response.header("www-authenticate"), let ch = AuthChallenge(header: value) else {
            throw OCIWriterError(.authentication, "registry \(registry): \(operation) was refused (HTTP 401) without an authentication challenge")
        }
        switch ch.scheme {
        case "basic":
            guard let credential else {
                throw OCIWriterError(.authentication, "registry \(registry) requires a username and password for \(operation): run 'ociforge login \(registry)' or pass --username/--password (or REGISTRY_USERNAME/REGISTRY_PASSWORD)")
            }
            if sent != nil {
                throw OCIWriterError(.authentication, "registry \(registry) rejected the username or password of '\(credential.username)' for \(operation) (HTTP 401 UNAUTHORIZED)")
            }
            scheme = .basic
        case "bearer":
            guard let realmString = ch.params["realm"], let realm = URL(string: realmString),
                  realm.scheme == "https" || realm.scheme == "http" else {
                throw OCIWriterError(.authentication, "registry \(registry) sent a Bearer challenge without a usable realm")
            }
            let key = scope.joined(separator: " ")
            if let sent, sent.hasPrefix("Bearer "), freshTokens.contains(String(sent.dropFirst(7))) {
                // A token fetched just now for exactly this scope was refused: the token server granted less
                // than asked (a cached token that is refused may merely have expired: it is fetched again below).
                tokens[key] = nil
                let err = ch.params["error"] ?? "insufficient_scope"
                let who = credential.map { " to '\($0.username)'" } ?? "; anonymous tokens are often pull-only: log in first"
                throw OCIWriterError(.authentication, "registry \(registry) refused the token for \(operation) (\(err)): the token server did not grant '\(key)'\(who)")
            }
            scheme = .bearer(realm: realm, service: ch.params["service"])
            let token = try await fetchToken(realm: realm, service: ch.params["service"], scope: scope, operation: operation)
            tokens[key] = token
            freshTokens.insert(token)
        default:
            throw OCIWriterError(.authentication, "registry \(registry) asks for unsupported authentication scheme '\(ch.scheme)'")
        }
    }

    /// Fetches a token for `scope` before first use when the scheme is already known to be Bearer.
    func prepare(scope: [String], operation: String) async throws {
        guard case .bearer(let realm, let service) = scheme else { return }
        let key = scope.joined(separator: " ")
        if tokens[key] == nil {
            let token = try await fetchToken(realm: realm, service: service, scope: scope, operation: operation)
            tokens[key] = token
            freshTokens.insert(token)
        }
    }

    /// The registry accepted `header`: its token is no longer "fresh" (a later 401 means it expired).
    func accepted(_ header: String?) {
        if let h = header, h.hasPrefix("Bearer ") { freshTokens.remove(String(h.dropFirst(7))) }
    }

    func noteAnonymous() { if case .unknown = scheme { scheme = .anonymous } }

    private func fetchToken(realm: URL, service: String?, scope: [String], operation: String) async throws -> String {
        guard var comps = URLComponents(url: realm, resolvingAgainstBaseURL: false) else {
            throw OCIWriterError(.authentication, "registry \(registry): invalid token realm")
        }
        var items = comps.queryItems ?? []
        if let service { items.append(URLQueryItem(name: "service", value: service)) }
        for s in scope { items.append(URLQueryItem(name: "scope", value: s)) }
        comps.queryItems = items
        guard let url = comps.url else { throw OCIWriterError(.authentication, "registry \(registry): invalid token realm") }
        var headers = ["Accept": "application/json"]
        if let credential { headers["Authorization"] = credential.basicHeader }
        let realmHost = realm.host ?? "?"
        let resp: HTTPResponse
        do {
            resp = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers), maxBodyBytes: 1 << 20)
        } catch let e as OCIWriterError {
            throw RetryableFailure(OCIWriterError(.network, "registry \(registry): token server \(realmHost) unreachable for \(operation): \(e.message)"))
        }
        switch resp.status {
        case 200:
            break
        case 401, 403:
            let who = credential.map { "the username or password of '\($0.username)'" } ?? "anonymous access"
            throw OCIWriterError(.authentication, "registry \(registry): token server \(realmHost) rejected \(who) for \(operation) (HTTP \(resp.status)\(RegistryErrorBody.summary(resp.body).map { " " + $0 } ?? ""))")
        case 408, 429, 500...599:
            throw RetryableFailure(OCIWriterError(.network, "registry \(registry): token server \(realmHost) answered HTTP \(resp.status) for \(operation)"))
        default:
            throw OCIWriterError(.authentication, "registry \(registry): token server \(realmHost) answered HTTP \(resp.status) for \(operation)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(resp.body)) as? [String: Any],
              let token = (obj["token"] as? String) ?? (obj["access_token"] as? String), !token.isEmpty else {
            throw OCIWriterError(.authentication, "registry \(registry): token server \(realmHost) answered without 'token' or 'access_token'")
        }
        return token
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
        guard !body.isEmpty, let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
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
