/// One component of an SBOM: a Debian package, a language dependency from a lockfile, or a toolchain.
public struct SBOMPackage: Hashable, Sendable, Codable {
    public enum Ecosystem: String, Sendable, Codable, CaseIterable {
        case deb, npm, pypi, cargo, golang, gem, composer, toolchain
    }

    public var ecosystem: Ecosystem
    public var name: String
    public var version: String
    public var purl: String?
    /// Debian architecture (`amd64`, `all`).
    public var architecture: String?
    /// Debian source package and its version when they differ from the binary's.
    public var sourcePackage: String?
    public var sourceVersion: String?
    /// Where the package came from (toolchain archives).
    public var downloadLocation: String?
    /// sha256 hex of the downloaded archive (toolchains).
    public var sha256: String?
    /// The file the package was found in (`/var/lib/dpkg/status`, `package-lock.json`, …).
    public var foundIn: String

    public init(
        ecosystem: Ecosystem, name: String, version: String, purl: String?, foundIn: String,
        architecture: String? = nil, sourcePackage: String? = nil, sourceVersion: String? = nil,
        downloadLocation: String? = nil, sha256: String? = nil
    ) {
        self.ecosystem = ecosystem
        self.name = name
        self.version = version
        self.purl = purl
        self.foundIn = foundIn
        self.architecture = architecture
        self.sourcePackage = sourcePackage
        self.sourceVersion = sourceVersion
        self.downloadLocation = downloadLocation
        self.sha256 = sha256
    }

    /// A toolchain the build installed (name, version, archive URL and its sha256).
    public static func toolchain(name: String, version: String, url: String, sha256: String) -> SBOMPackage {
        SBOMPackage(
            ecosystem: .toolchain, name: name, version: version,
            purl: PackageURL(
                type: "generic", name: name, version: version,
                qualifiers: [("checksum", "sha256:" + sha256), ("download_url", url)]
            ).string,
            foundIn: "toolchain", downloadLocation: url, sha256: sha256)
    }

    /// Sort order of SBOM output: ecosystem, name, version, purl.
    static func ordered(_ a: SBOMPackage, _ b: SBOMPackage) -> Bool {
        (a.ecosystem.rawValue, a.name, a.version, a.purl ?? "", a.architecture ?? "")
            < (b.ecosystem.rawValue, b.name, b.version, b.purl ?? "", b.architecture ?? "")
    }

    /// Sorted, without duplicates (same ecosystem, name, version, purl and architecture).
    public static func normalised(_ list: [SBOMPackage]) -> [SBOMPackage] {
        var seen = Set<String>()
        return list.sorted(by: ordered).filter {
            seen.insert(
                [$0.ecosystem.rawValue, $0.name, $0.version, $0.purl ?? "", $0.architecture ?? ""].joined(
                    separator: "\u{0}")
            ).inserted
        }
    }
}

/// A package URL (package-url/purl-spec): `pkg:type/namespace/name@version?qualifiers`, percent-encoded,
/// qualifiers sorted by key.
public struct PackageURL: Sendable, Hashable {
    public var type: String
    public var namespace: String?
    public var name: String
    public var version: String?
    public var qualifiers: [(String, String)]

    public init(
        type: String, namespace: String? = nil, name: String, version: String?, qualifiers: [(String, String)] = []
    ) {
        self.type = type
        self.namespace = namespace
        self.name = name
        self.version = version
        self.qualifiers = qualifiers
    }

    public static func == (a: PackageURL, b: PackageURL) -> Bool { a.string == b.string }
    public func hash(into h: inout Hasher) { h.combine(string) }

    public var string: String {
        var s = "pkg:" + type + "/"
        if let namespace, !namespace.isEmpty {
            s += namespace.split(separator: "/").map { Self.encode(String($0)) }.joined(separator: "/") + "/"
        }
        s += Self.encode(name)
        if let version, !version.isEmpty { s += "@" + Self.encode(version) }
        let q = qualifiers.filter { !$0.1.isEmpty }.sorted { $0.0 < $1.0 }
        if !q.isEmpty { s += "?" + q.map { $0.0 + "=" + Self.encode($0.1) }.joined(separator: "&") }
        return s
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 . - _ ~` (and keeps `:` and `/` only where the spec allows
    /// them unencoded: nowhere inside a component here, except `:` in qualifier values).
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
