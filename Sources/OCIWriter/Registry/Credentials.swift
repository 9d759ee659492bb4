import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A username and secret for one registry. `description` never shows the secret.
///
/// `identityToken` is an OAuth2 refresh token (docker `config.json` `identitytoken`, or a credential helper answering
/// with the username `<token>`): Bearer tokens are then obtained with the OAuth2 POST flow.
public struct RegistryCredential: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String
    public var password: String
    public var identityToken: String?

    /// The username credential helpers use to say that the secret is an identity token.
    public static let identityTokenUsername = "<token>"

    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }

    public var description: String {
        "credential for '\(username)'\(identityToken != nil ? " with an identity token" : "") (secret hidden)"
    }
    public var debugDescription: String { description }

    /// Basic credentials; with an identity token and no password the token stands in for the password (token
    /// servers without OAuth2 support that accept tokens do so this way).
    var basicHeader: String {
        let secret = password.isEmpty ? (identityToken ?? "") : password
        return "Basic " + Data("\(username):\(secret)".utf8).base64EncodedString()
    }
}

/// Finds and stores registry credentials the way docker, podman and skopeo do.
///
/// Lookup order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `~/.config/containers/auth.json`, then docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
/// In each file: `credHelpers[host]`, then `auths` entries, then `credsStore` (helpers are `docker-credential-<name>`
/// programs found on `PATH`).
public struct CredentialStore: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Candidate files, most specific first.
    public var searchPaths: [String] {
        var paths: [String] = []
        let home = environment["HOME"] ?? NSHomeDirectory()
        if let f = environment["REGISTRY_AUTH_FILE"], !f.isEmpty { paths.append(f) }
        if let x = environment["XDG_RUNTIME_DIR"], !x.isEmpty { paths.append(x + "/containers/auth.json") }
        paths.append(home + "/.config/containers/auth.json")
        paths.append(dockerConfigPath)
        return paths
    }

    /// Docker's config file.
    public var dockerConfigPath: String {
        if let d = environment["DOCKER_CONFIG"], !d.isEmpty { return d + "/config.json" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.docker/config.json"
    }

    /// The file `login` writes to: `$REGISTRY_AUTH_FILE` when set, else docker's config file.
    public var writePath: String {
        if let f = environment["REGISTRY_AUTH_FILE"], !f.isEmpty { return f }
        return dockerConfigPath
    }

    /// The keys a registry may be stored under in `auths`.
    static func keys(for registry: String) -> [String] {
        let r = registry.lowercased()
        if r == ImageReference.dockerHub || r == "index.docker.io" || r == "registry-1.docker.io" {
            return [
                "https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io",
                "https://index.docker.io/v1", "https://registry-1.docker.io"
            ]
        }
        return [r, "https://" + r, "http://" + r, "https://" + r + "/v1/", "https://" + r + "/v2/"]
    }

    static func normalise(_ key: String) -> String {
        var k = key.lowercased()
        for p in ["https://", "http://"] where k.hasPrefix(p) { k.removeFirst(p.count) }
        if let slash = k.firstIndex(of: "/") { k = String(k[..<slash]) }
        if k == "index.docker.io" || k == "registry-1.docker.io" { k = ImageReference.dockerHub }
        return k
    }

    /// Credentials for `registry` (`host[:port]`, `docker.io` for Docker Hub), or nil for anonymous access.
    public func lookup(registry: String) throws -> RegistryCredential? {
        let want = Self.normalise(registry)
        for path in searchPaths {
            guard let obj = try Self.readJSON(path) else { continue }
            if let helpers = obj["credHelpers"] as? [String: Any] {
                for (k, v) in helpers where Self.normalise(k) == want {
                    if let name = v as? String, let c = try runHelper(name, server: k, path: path) { return c }
                }
            }
            if let auths = obj["auths"] as? [String: Any] {
                for (k, v) in auths where Self.normalise(k) == want {
                    guard let entry = v as? [String: Any] else { continue }
                    if let c = try Self.decodeAuthEntry(entry, key: k, path: path) { return c }
                }
            }
            if let store = obj["credsStore"] as? String, !store.isEmpty {
                for k in Self.keys(for: registry) {
                    if let c = try runHelper(store, server: k, path: path) { return c }
                }
            }
        }
        return nil
    }

    static func decodeAuthEntry(_ entry: [String: Any], key: String, path: String) throws -> RegistryCredential? {
        if let token = entry["identitytoken"] as? String, !token.isEmpty {
            // docker stores the account name in `auth` or `username` next to the token; the token replaces the password.
            var user = entry["username"] as? String ?? ""
            if user.isEmpty, let auth = entry["auth"] as? String, let data = Data(base64Encoded: auth),
                let s = String(data: data, encoding: .utf8), let colon = s.firstIndex(of: ":")
            {
                user = String(s[..<colon])
            }
            return RegistryCredential(
                username: user.isEmpty ? RegistryCredential.identityTokenUsername : user, password: "",
                identityToken: token)
        }
        if let u = entry["username"] as? String, let p = entry["password"] as? String, !u.isEmpty {
            return RegistryCredential(username: u, password: p)
        }
        guard let auth = entry["auth"] as? String, !auth.isEmpty else { return nil }
        guard let data = Data(base64Encoded: auth), let s = String(data: data, encoding: .utf8),
            let colon = s.firstIndex(of: ":")
        else {
            throw OCIWriterError(
                .authentication, "the 'auth' value for '\(key)' is not base64 of user:password", path: path)
        }
        return RegistryCredential(username: String(s[..<colon]), password: String(s[s.index(after: colon)...]))
    }

    static func readJSON(_ path: String) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OCIWriterError(.io, "cannot read credentials file", path: path)
        }
        if data.isEmpty { return [:] }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw OCIWriterError(
                .invalidJSON, "credentials file is not a JSON object\(CanonicalJSON.position(of: Array(data)))",
                path: path)
        }
        return obj
    }

    /// Runs `docker-credential-<name> get` with `server` on stdin.
    func runHelper(_ name: String, server: String, path: String) throws -> RegistryCredential? {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw OCIWriterError(.authentication, "invalid credential helper name '\(name)'", path: path)
        }
        let program = "docker-credential-" + name
        let dirs = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        guard
            let exe = dirs.map({ "\($0)/\(program)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }
            )
        else {
            throw OCIWriterError(
                .authentication, "credential helper '\(program)' named in the credentials file was not found on PATH",
                path: path)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["get"]
        p.environment = environment
        let input = Pipe(), output = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = err
        do { try p.run() } catch {
            throw OCIWriterError(.authentication, "cannot run credential helper '\(program)'", path: path, cause: error)
        }
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: out, as: UTF8.self)
        if p.terminationStatus != 0 {
            // The helper protocol reports a missing entry as "credentials not found in native keychain".
            if text.lowercased().contains("credentials not found") { return nil }
            throw OCIWriterError(
                .authentication,
                "credential helper '\(program)' failed for '\(server)' (exit status \(p.terminationStatus))", path: path
            )
        }
        guard let obj = try? JSONSerialization.jsonObject(with: out) as? [String: Any],
            let user = obj["Username"] as? String, let secret = obj["Secret"] as? String
        else {
            throw OCIWriterError(
                .authentication, "credential helper '\(program)' returned no Username/Secret for '\(server)'",
                path: path)
        }
        if user == RegistryCredential.identityTokenUsername {
            return RegistryCredential(username: user, password: "", identityToken: secret)
        }
        return RegistryCredential(username: user, password: secret)
    }

    /// Stores `credential` for `registry` in `writePath` (`auths`, base64 user:password), keeping other entries.
    public func save(_ credential: RegistryCredential, registry: String) throws {
        let path = writePath
        var obj = try Self.readJSON(path) ?? [:]
        var auths = obj["auths"] as? [String: Any] ?? [:]
        let want = Self.normalise(registry)
        for k in auths.keys where Self.normalise(k) == want { auths.removeValue(forKey: k) }
        let key = want == ImageReference.dockerHub ? "https://index.docker.io/v1/" : want
        if let token = credential.identityToken {
            auths[key] = ["auth": Data("\(credential.username):".utf8).base64EncodedString(), "identitytoken": token]
        } else {
            auths[key] = ["auth": Data("\(credential.username):\(credential.password)".utf8).base64EncodedString()]
        }
        obj["auths"] = auths
        try Self.writeJSON(obj, to: path)
    }

    /// Removes stored credentials for `registry` from `writePath`; false when there were none.
    @discardableResult
    public func remove(registry: String) throws -> Bool {
        let path = writePath
        guard var obj = try Self.readJSON(path), var auths = obj["auths"] as? [String: Any] else { return false }
        let want = Self.normalise(registry)
        let matching = auths.keys.filter { Self.normalise($0) == want }
        guard !matching.isEmpty else { return false }
        for k in matching { auths.removeValue(forKey: k) }
        obj["auths"] = auths
        try Self.writeJSON(obj, to: path)
        return true
    }

    static func writeJSON(_ obj: [String: Any], to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: dir, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
        let tmp = dir + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot write credentials file", path: tmp) }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { return false }
                off += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw OCIWriterError.sys("cannot write credentials file", path: path)
        }
    }
}
