import Foundation

/// Parses a dpkg status database (`/var/lib/dpkg/status`, deb822 paragraphs) into installed packages.
public enum DpkgStatus {
    /// The packages whose `Status` is `install ok installed`, with purls
    /// `pkg:deb/<vendor>/<name>@<version>?arch=<arch>&distro=<distro>`.
    public static func packages(_ text: String, vendor: String = "debian", distro: String?) -> [SBOMPackage] {
        var result: [SBOMPackage] = []
        for para in paragraphs(text) {
            guard let name = para["Package"], let version = para["Version"],
                para["Status"]?.split(separator: " ").last == "installed"
            else { continue }
            let arch = para["Architecture"]
            var source: String?, sourceVersion: String?
            if let s = para["Source"] {
                // `Source: name` or `Source: name (version)` when the source version differs.
                let parts = s.split(separator: " ", maxSplits: 1)
                source = String(parts[0])
                if parts.count == 2 {
                    sourceVersion = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "() "))
                }
            }
            var q: [(String, String)] = []
            if let arch { q.append(("arch", arch)) }
            if let distro { q.append(("distro", distro)) }
            let purl = PackageURL(
                type: "deb", namespace: vendor.lowercased(), name: name.lowercased(), version: version, qualifiers: q)
            result.append(
                SBOMPackage(
                    ecosystem: .deb, name: name, version: version, purl: purl.string,
                    foundIn: "/var/lib/dpkg/status", architecture: arch,
                    sourcePackage: source, sourceVersion: sourceVersion))
        }
        return SBOMPackage.normalised(result)
    }

    /// deb822 paragraphs as field → value (continuation lines joined with newlines).
    static func paragraphs(_ text: String) -> [[String: String]] {
        var out: [[String: String]] = []
        var current: [String: String] = [:]
        var last: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !current.isEmpty { out.append(current) }
                current = [:]
                last = nil
                continue
            }
            if line.first == " " || line.first == "\t" {
                if let last { current[last, default: ""] += "\n" + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            current[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            last = key
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// `/etc/os-release` fields that name the distribution in purls.
public struct OSRelease: Sendable, Equatable {
    public var id: String
    public var versionID: String?
    public var codename: String?

    public init(_ text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = line[line.index(after: eq)...].trimmingCharacters(
                in: CharacterSet(charactersIn: "\"' "))
        }
        id = fields["ID"]?.lowercased() ?? "debian"
        versionID = fields["VERSION_ID"]
        codename = fields["VERSION_CODENAME"]
    }

    /// `distro` qualifier: `<id>-<version>` (e.g. `debian-12`), else the codename.
    public var distro: String? {
        if let versionID { return "\(id)-\(versionID)" }
        return codename
    }
}
