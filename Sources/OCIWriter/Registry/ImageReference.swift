/// A registry image reference: `[host[:port]/]repository[:tag][@sha256:…]`.
///
/// Docker Hub is normalised the way docker and skopeo do it: no host means `docker.io`, and a single-component
/// repository on Docker Hub gets the `library/` prefix. `apiHost` is the host the API is served from.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// `host[:port]` as written, lowercased when that still reads as a host (it has a `.` or `:`, or is
    /// `localhost`): a dotless name is a host only because of its capitals (`MyRegistry/app`), so lowercasing it
    /// would print a Docker Hub reference. `docker.io` for Docker Hub.
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public static let dockerHub = "docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) throws {
        try self.init(registry: registry, repository: repository, tag: tag, digest: digest, input: nil)
    }

    init(registry: String, repository: String, tag: String?, digest: Digest?, input: String?) throws {
        let lower = registry.lowercased()
        var reg = lower.contains(".") || lower.contains(":") || lower == "localhost" ? lower : registry
        // Docker Hub's other names, in any case (host names are case-insensitive).
        if reg == "index.docker.io" || reg == "registry-1.docker.io" { reg = Self.dockerHub }
        let shown = input ?? "\(registry)/\(repository)"
        try Self.validateHost(reg, in: shown)
        var repo = repository
        if reg == Self.dockerHub && !repo.contains("/") { repo = "library/" + repo }
        try Self.validateRepository(repo, in: shown)
        if let tag { try Self.validateTag(tag, in: shown) }
        self.registry = reg
        self.repository = repo
        self.tag = tag
        self.digest = digest
    }

    public init(parsing input: String) throws {
        let s = input
        guard !s.isEmpty else { throw Self.error(s, "the reference is empty") }
        guard !s.contains("://") else {
            throw Self.error(
                s,
                "a reference has no scheme; write host[:port]/repository[:tag] (use docker://… only as a transport prefix)"
            )
        }
        var rest = Substring(s)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            do { digest = try Digest(d) } catch let e as OCIWriterError { throw Self.error(s, e.message) }
            rest = rest[..<at]
        }
        var registry = Self.dockerHub
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost"
                || first.contains(where: { $0.isUppercase })
            {
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        try self.init(registry: registry, repository: String(rest), tag: tag, digest: digest, input: s)
        if self.tag == nil && self.digest == nil { self.tag = "latest" }
        _ = s
    }

    /// The host serving the registry API (`registry-1.docker.io` for Docker Hub).
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    /// What goes after `/manifests/`: the digest when present, else the tag.
    public var reference: String { digest?.string ?? tag ?? "latest" }

    public var description: String {
        var s = registry + "/" + repository
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest.string }
        return s
    }

    /// The same repository with another tag or digest.
    public func with(tag: String?, digest: Digest? = nil) -> ImageReference {
        var r = self
        r.tag = tag
        r.digest = digest
        return r
    }

    // MARK: validation

    static func error(_ input: String, _ why: String) -> OCIWriterError {
        OCIWriterError(.invalidReference, "invalid image reference '\(input)': \(why)")
    }

    static func validateHost(_ host: String, in input: String) throws {
        var name = Substring(host)
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            let port = host[host.index(after: colon)...]
            guard let p = Int(port), (1...65535).contains(p) else {
                throw error(input, "port '\(port)' of registry '\(host)' is not a number between 1 and 65535")
            }
            name = host[..<colon]
        }
        if name.hasPrefix("[") && name.hasSuffix("]") { return }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty,
            labels.allSatisfy({ l in
                !l.isEmpty && !l.hasPrefix("-") && !l.hasSuffix("-")
                    && l.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            })
        else {
            throw error(input, "registry host '\(host)' is not a valid host name")
        }
    }

    /// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` separated by `/`, at most 255 characters.
    static func validateRepository(_ repo: String, in input: String) throws {
        guard !repo.isEmpty else { throw error(input, "the repository name is empty") }
        guard repo.utf8.count <= 255 else { throw error(input, "the repository name is longer than 255 characters") }
        for comp in repo.split(separator: "/", omittingEmptySubsequences: false) {
            let b = Array(comp.utf8)
            func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
            guard let f = b.first, let l = b.last, alnum(f), alnum(l) else {
                throw error(input, "repository component '\(comp)' must start and end with a lowercase letter or digit")
            }
            var i = 0
            while i < b.count {
                let c = b[i]
                if alnum(c) {
                    i += 1
                    continue
                }
                if c == 0x2E {  // .
                    guard i + 1 < b.count, alnum(b[i + 1]) else {
                        throw error(input, "repository component '\(comp)' has an invalid separator")
                    }
                    i += 1
                } else if c == 0x5F {  // _ or __
                    var j = i + 1
                    if j < b.count, b[j] == 0x5F { j += 1 }
                    guard j < b.count, alnum(b[j]) else {
                        throw error(input, "repository component '\(comp)' has an invalid separator")
                    }
                    i = j
                } else if c == 0x2D {  // -+
                    var j = i
                    while j < b.count, b[j] == 0x2D { j += 1 }
                    guard j < b.count, alnum(b[j]) else {
                        throw error(input, "repository component '\(comp)' has an invalid separator")
                    }
                    i = j
                } else {
                    let ch = String(decoding: [c], as: UTF8.self)
                    throw error(
                        input,
                        "repository component '\(comp)' contains '\(ch)': only lowercase letters, digits and . _ __ - are allowed"
                    )
                }
            }
        }
    }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    static func validateTag(_ tag: String, in input: String) throws {
        let b = Array(tag.utf8)
        func ok(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        }
        guard let f = b.first, ok(f), b.count <= 128, b.allSatisfy({ ok($0) || $0 == 0x2E || $0 == 0x2D }) else {
            throw error(
                input, "tag '\(tag)' is invalid: 1–128 characters from [A-Za-z0-9_.-], not starting with '.' or '-'")
        }
    }
}

/// Where an image lives, in skopeo's transport syntax.
public enum ImageLocation: Hashable, Sendable, CustomStringConvertible {
    /// `oci-layout:<dir>[:tag]` (also `oci:` as skopeo spells it).
    case ociLayout(path: String, tag: String?)
    /// `docker://<reference>`.
    case registry(ImageReference)
    /// `docker-archive:<file>[:reference]`; as a source the reference may be `@N`, the Nth image of the archive.
    case dockerArchive(path: String, reference: String?)

    public init(parsing s: String) throws {
        if s.hasPrefix("docker://") {
            self = .registry(try ImageReference(parsing: String(s.dropFirst(9))))
        } else if s.hasPrefix("oci-layout:") || s.hasPrefix("oci:") {
            let rest = String(s.drop(while: { $0 != ":" }).dropFirst())
            guard !rest.isEmpty else {
                throw OCIWriterError(.invalidReference, "invalid location '\(s)': the layout directory is empty")
            }
            let r = try LayoutReference(parsing: rest)
            self = .ociLayout(path: r.path, tag: r.tag)
        } else if s.hasPrefix("docker-archive:") {
            let rest = s.dropFirst("docker-archive:".count)
            // docker-archive:path[:reference] — the reference may itself contain ':' (tag) and '/'.
            var path = String(rest), ref: String?
            if let c = rest.firstIndex(of: ":") {
                path = String(rest[..<c])
                ref = String(rest[rest.index(after: c)...])
                if let r = ref {
                    if r.hasPrefix("@") {
                        _ = try DockerArchive.Selector(r)
                    } else {
                        _ = try ImageReference(parsing: r)
                    }
                }
            }
            guard !path.isEmpty else {
                throw OCIWriterError(.invalidReference, "invalid location '\(s)': the archive path is empty")
            }
            self = .dockerArchive(path: path, reference: ref)
        } else {
            throw OCIWriterError(
                .invalidReference,
                "invalid location '\(s)': expected oci-layout:<dir>[:tag], docker://<reference> or docker-archive:<file>[:reference|:@index]"
            )
        }
    }

    public var description: String {
        switch self {
        case .ociLayout(let p, let t): return "oci-layout:" + p + (t.map { ":" + $0 } ?? "")
        case .registry(let r): return "docker://" + r.description
        case .dockerArchive(let p, let r): return "docker-archive:" + p + (r.map { ":" + $0 } ?? "")
        }
    }
}
