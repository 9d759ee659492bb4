import Foundation

/// Language dependency lockfiles → packages with purls. Each parser is a pure function of the file's text.
public enum Lockfiles {
    public enum Kind: String, Sendable, CaseIterable {
        case packageLock = "package-lock.json"
        case pnpmLock = "pnpm-lock.yaml"
        case yarnLock = "yarn.lock"
        case poetryLock = "poetry.lock"
        case uvLock = "uv.lock"
        case requirements = "requirements.txt"
        case cargoLock = "Cargo.lock"
        case goSum = "go.sum"
        case gemfileLock = "Gemfile.lock"
        case composerLock = "composer.lock"
    }

    /// The kind of lockfile a file name denotes.
    public static func kind(ofFileNamed name: String) -> Kind? { Kind(rawValue: name) }

    /// Parses `text` as a lockfile of `kind`; `source` names the file in errors and in `foundIn`.
    public static func packages(_ kind: Kind, _ text: String, source: String) throws -> [SBOMPackage] {
        let list: [SBOMPackage]
        switch kind {
        case .packageLock: list = try packageLock(text, source: source)
        case .pnpmLock: list = pnpmLock(text, source: source)
        case .yarnLock: list = yarnLock(text, source: source)
        case .poetryLock: list = tomlPackages(text, source: source, ecosystem: .pypi, requireRegistry: false)
        case .uvLock: list = tomlPackages(text, source: source, ecosystem: .pypi, requireRegistry: true)
        case .requirements: list = requirements(text, source: source)
        case .cargoLock: list = tomlPackages(text, source: source, ecosystem: .cargo, requireRegistry: true)
        case .goSum: list = goSum(text, source: source)
        case .gemfileLock: list = gemfileLock(text, source: source)
        case .composerLock: list = try composerLock(text, source: source)
        }
        return SBOMPackage.normalised(list)
    }

    // MARK: purls

    static func npm(_ name: String, _ version: String, _ source: String) -> SBOMPackage {
        var ns: String?, n = name
        if name.hasPrefix("@"), let slash = name.firstIndex(of: "/") {
            ns = String(name[..<slash])
            n = String(name[name.index(after: slash)...])
        }
        let purl = PackageURL(type: "npm", namespace: ns?.lowercased(), name: n.lowercased(), version: version)
        return SBOMPackage(ecosystem: .npm, name: name, version: version, purl: purl.string, foundIn: source)
    }

    /// PEP 503 normalised name (lowercase, runs of `-_.` → `-`).
    static func pypiName(_ name: String) -> String {
        var out = ""
        var sep = false
        for c in name.lowercased() {
            if c == "-" || c == "_" || c == "." {
                sep = true
                continue
            }
            if sep && !out.isEmpty { out.append("-") }
            sep = false
            out.append(c)
        }
        return out
    }

    static func make(_ e: SBOMPackage.Ecosystem, _ name: String, _ version: String, _ source: String) -> SBOMPackage {
        switch e {
        case .npm: return npm(name, version, source)
        case .pypi:
            return SBOMPackage(
                ecosystem: e, name: name, version: version,
                purl: PackageURL(type: "pypi", name: pypiName(name), version: version).string, foundIn: source)
        case .composer:
            let parts = name.lowercased().split(separator: "/", maxSplits: 1).map(String.init)
            let purl =
                parts.count == 2
                ? PackageURL(type: "composer", namespace: parts[0], name: parts[1], version: version)
                : PackageURL(type: "composer", name: parts[0], version: version)
            return SBOMPackage(ecosystem: e, name: name, version: version, purl: purl.string, foundIn: source)
        case .golang:
            let path = name.split(separator: "/").map(String.init)
            let purl = PackageURL(
                type: "golang", namespace: path.dropLast().joined(separator: "/"), name: path.last ?? name,
                version: version)
            return SBOMPackage(ecosystem: e, name: name, version: version, purl: purl.string, foundIn: source)
        default:
            return SBOMPackage(
                ecosystem: e, name: name, version: version,
                purl: PackageURL(type: e.rawValue, name: name, version: version).string, foundIn: source)
        }
    }

    // MARK: npm

    static func packageLock(_ text: String, source: String) throws -> [SBOMPackage] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw SupplyChainError(.invalidInput, "not a JSON object", location: source)
        }
        var out: [SBOMPackage] = []
        if let packages = obj["packages"] as? [String: Any] {
            // lockfileVersion 2/3: "node_modules/a/node_modules/@s/b" → the name after the last node_modules/.
            for (key, value) in packages where !key.isEmpty {
                guard let p = value as? [String: Any], p["link"] as? Bool != true, let v = p["version"] as? String,
                    let r = key.range(of: "node_modules/", options: .backwards)
                else { continue }
                out.append(npm((p["name"] as? String) ?? String(key[r.upperBound...]), v, source))
            }
        } else if let deps = obj["dependencies"] as? [String: Any] {
            // lockfileVersion 1: nested "dependencies".
            func walk(_ d: [String: Any]) {
                for (name, value) in d {
                    guard let p = value as? [String: Any] else { continue }
                    if let v = p["version"] as? String, !v.hasPrefix("file:"), !v.hasPrefix("link:") {
                        out.append(npm(name, v, source))
                    }
                    if let nested = p["dependencies"] as? [String: Any] { walk(nested) }
                }
            }
            walk(deps)
        }
        return out
    }

    /// `name@version` (name may start with `@`) → (name, version).
    static func splitAt(_ s: String) -> (String, String)? {
        guard let at = s.lastIndex(of: "@"), at != s.startIndex else { return nil }
        return (String(s[..<at]), String(s[s.index(after: at)...]))
    }

    static func pnpmLock(_ text: String, source: String) -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        var inPackages = false
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if !line.hasPrefix(" ") {
                inPackages = line.hasPrefix("packages:")
                continue
            }
            guard inPackages, line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") else { continue }
            var key = String(line.dropFirst(2).dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            if let paren = key.firstIndex(of: "(") { key = String(key[..<paren]) }  // peer suffix (v6+)
            if key.hasPrefix("/") { key.removeFirst() }
            // v5: "/name/1.2.3" or "/@scope/name/1.2.3_peer@x" (the last segment is the version).
            if let slash = key.lastIndex(of: "/"),
                let v = key[key.index(after: slash)...].split(separator: "_").first.map(String.init),
                v.first?.isNumber == true, !v.contains("@")
            {
                out.append(npm(String(key[..<slash]), v, source))
            } else if let (n, v) = splitAt(key), v.first?.isNumber == true {
                out.append(npm(n, v, source))
            }
        }
        return out
    }

    static func yarnLock(_ text: String, source: String) -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        var header: String?
        var version: String?, resolution: String?
        func flush() {
            defer {
                header = nil
                version = nil
                resolution = nil
            }
            guard let header, let version, header != "__metadata", !header.contains("@workspace:"),
                !header.contains("@link:"),
                !header.contains("@patch:") || resolution != nil
            else { return }
            if let resolution {
                // Berry: resolution "name@npm:1.2.3"; other protocols (git, file, portal) are not registry packages.
                guard let r = resolution.range(of: "@npm:") else { return }
                out.append(npm(String(resolution[..<r.lowerBound]), version, source))
                return
            }
            let first = header.split(separator: ",")[0].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            if let (n, _) = splitAt(first) { out.append(npm(n, version, source)) }
        }
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if !line.hasPrefix(" ") {
                flush()
                header = String(line.dropLast(line.hasSuffix(":") ? 1 : 0)).trimmingCharacters(
                    in: CharacterSet(charactersIn: "\""))
                continue
            }
            let t = line.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("  "), !line.hasPrefix("    ") else { continue }
            if t.hasPrefix("version ") || t.hasPrefix("version:") {
                version = t.dropFirst(8).trimmingCharacters(in: CharacterSet(charactersIn: "\": "))
            } else if t.hasPrefix("resolution:") {
                resolution = t.dropFirst(11).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            }
        }
        flush()
        return out
    }

    // MARK: TOML [[package]] tables (poetry.lock, uv.lock, Cargo.lock)

    static func tomlPackages(_ text: String, source: String, ecosystem: SBOMPackage.Ecosystem, requireRegistry: Bool)
        -> [SBOMPackage]
    {
        var out: [SBOMPackage] = []
        var name: String?, version: String?, src: String?
        var inPackage = false
        func flush() {
            defer {
                name = nil
                version = nil
                src = nil
            }
            guard inPackage, let name, let version else { return }
            if requireRegistry {
                // uv.lock: source = { registry = "…" }; Cargo.lock: source = "registry+…". Workspace members and
                // editable/virtual/path sources are the project itself.
                guard let src, src.contains("registry") else { return }
            }
            out.append(make(ecosystem, name, version, source))
        }
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                flush()
                inPackage = line == "[[package]]"
                continue
            }
            guard inPackage, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            let unquoted = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            switch key {
            case "name": name = unquoted
            case "version": version = unquoted
            case "source": src = value
            default: break
            }
        }
        flush()
        return out
    }

    // MARK: pip, Go, Ruby, PHP

    /// Pinned lines `name==version` (extras, environment markers, hashes and options ignored); unpinned lines
    /// are skipped (their version is decided at install time).
    static func requirements(_ text: String, source: String) -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        for raw in text.split(separator: "\n") {
            var line = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            line =
                line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            line = line.trimmingCharacters(in: CharacterSet(charactersIn: " \\\t"))
            guard !line.hasPrefix("-"), let r = line.range(of: "==") else { continue }
            var name = line[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
            if let b = name.firstIndex(of: "[") { name = String(name[..<b]) }
            let version = line[r.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            guard !name.isEmpty, !version.isEmpty, !version.contains("*") else { continue }
            out.append(make(.pypi, name, version, source))
        }
        return out
    }

    /// Modules whose content hash is listed (lines without `/go.mod`): those are downloaded and built.
    static func goSum(_ text: String, source: String) -> [SBOMPackage] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 3, !f[1].hasSuffix("/go.mod") else { return nil }
            return make(.golang, String(f[0]), String(f[1]), source)
        }
    }

    /// The `specs:` of `GEM` sections: `    name (version)` (deeper lines are dependency constraints).
    static func gemfileLock(_ text: String, source: String) -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        var inGem = false
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if !line.hasPrefix(" ") {
                inGem = line == "GEM"
                continue
            }
            guard inGem, line.hasPrefix("    "), !line.hasPrefix("     "),
                let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")")
            else { continue }
            let name = line[..<open].trimmingCharacters(in: .whitespaces)
            var version = String(line[line.index(after: open)..<close])
            var platform: String?
            if let dash = version.firstIndex(of: "-") {
                platform = String(version[version.index(after: dash)...])
                version = String(version[..<dash])
            }
            let purl = PackageURL(
                type: "gem", name: name, version: version, qualifiers: platform.map { [("platform", $0)] } ?? [])
            out.append(SBOMPackage(ecosystem: .gem, name: name, version: version, purl: purl.string, foundIn: source))
        }
        return out
    }

    /// `packages` (runtime) of composer.lock; `packages-dev` is left out (`composer install --no-dev`).
    static func composerLock(_ text: String, source: String) throws -> [SBOMPackage] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw SupplyChainError(.invalidInput, "not a JSON object", location: source)
        }
        return ((obj["packages"] as? [[String: Any]]) ?? []).compactMap { p in
            guard let n = p["name"] as? String, var v = p["version"] as? String else { return nil }
            if v.hasPrefix("v"), v.dropFirst().first?.isNumber == true { v.removeFirst() }
            return make(.composer, n, v, source)
        }
    }
}
