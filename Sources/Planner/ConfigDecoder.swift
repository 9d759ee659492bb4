import Foundation

/// Reads a `ConfigNode` document into the plan schema, reporting unknown keys (a warning with the key path, an
/// error in strict mode), wrong types and invalid values with file, line and key.
struct ConfigReader {
    let file: String
    let strict: Bool
    var warnings: [PlannerWarning] = []
    /// Line of every key read, by key path (for errors found after merging, such as unknown dependsOn phases).
    var locations: [String: Int] = [:]

    init(file: String, strict: Bool) {
        self.file = file
        self.strict = strict
    }

    func fail(_ code: PlannerError.Code, _ message: String, _ node: ConfigNode?, _ path: String) -> PlannerError {
        PlannerError(
            code, message, file: file, line: node?.line, column: node?.line == nil ? nil : node?.column, key: path)
    }

    /// The entries of a table, with aliases mapped to canonical names. Unknown keys warn or fail.
    mutating func table(
        _ node: ConfigNode, _ path: String, keys: [String], aliases: [String: String] = [:],
        ignored: Set<String> = []
    ) throws(PlannerError) -> [(key: String, node: ConfigNode, path: String)] {
        guard case let .table(entries) = node.value else {
            throw fail(.type, "expected a table, found \(node.value.typeName)", node, path)
        }
        var out: [(key: String, node: ConfigNode, path: String)] = []
        var seen: [String: String] = [:]
        for (key, child) in entries {
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if ignored.contains(key) { continue }
            let canonical = aliases[key] ?? key
            guard keys.contains(canonical) else {
                let hint =
                    Self.suggestion(for: key, among: keys + Array(aliases.keys)).map { " (did you mean \"\($0)\"?)" }
                    ?? ""
                let message = "unknown key \"\(key)\"\(hint)"
                if strict { throw fail(.unknownKey, message, child, childPath) }
                warnings.append(
                    PlannerWarning(message + "; it is ignored", file: file, line: child.line, key: childPath))
                continue
            }
            if let other = seen[canonical] {
                throw fail(
                    .invalidValue, "\"\(key)\" and \"\(other)\" are the same setting; keep one", child, childPath)
            }
            seen[canonical] = key
            let canonicalPath = path.isEmpty ? canonical : "\(path).\(canonical)"
            if let line = child.line { locations[canonicalPath] = line }
            out.append((canonical, child, canonicalPath))
        }
        return out
    }

    func string(_ node: ConfigNode, _ path: String) throws(PlannerError) -> String {
        guard case let .string(s) = node.value else {
            throw fail(.type, "expected a string, found \(node.value.typeName)", node, path)
        }
        return s
    }

    func bool(_ node: ConfigNode, _ path: String) throws(PlannerError) -> Bool {
        guard case let .bool(b) = node.value else {
            throw fail(.type, "expected a boolean, found \(node.value.typeName)", node, path)
        }
        return b
    }

    func stringArray(_ node: ConfigNode, _ path: String) throws(PlannerError) -> [String] {
        guard case let .array(items) = node.value else {
            throw fail(.type, "expected an array of strings, found \(node.value.typeName)", node, path)
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case let .string(s) = item.value else {
                throw fail(.type, "expected a string, found \(item.value.typeName)", item, "\(path)[\(i)]")
            }
            out.append(s)
        }
        return out
    }

    /// Variables accept strings, integers, numbers and booleans (written as text), like Nixpacks' TOML.
    func stringMap(_ node: ConfigNode, _ path: String) throws(PlannerError) -> [String: String] {
        guard case let .table(entries) = node.value else {
            throw fail(.type, "expected a table, found \(node.value.typeName)", node, path)
        }
        var out: [String: String] = [:]
        for (key, child) in entries {
            switch child.value {
            case let .string(s): out[key] = s
            case let .int(i): out[key] = String(i)
            case let .bool(b): out[key] = String(b)
            case let .double(d): out[key] = String(d)
            default: throw fail(.type, "expected a string, found \(child.value.typeName)", child, "\(path).\(key)")
            }
        }
        return out
    }

    static func suggestion(for key: String, among candidates: [String]) -> String? {
        let lower = key.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "")
        for candidate in candidates.sorted() where candidate.lowercased() == lower { return candidate }
        var best: (String, Int)? = nil
        for candidate in candidates.sorted() {
            let d = editDistance(key.lowercased(), candidate.lowercased())
            if d <= 2, best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }

    // MARK: The Nixpacks schema

    static let planKeys = ["providers", "buildImage", "variables", "staticAssets", "phases", "start"]
    static let phaseKeys = [
        "name", "dependsOn", "nixPkgs", "nixLibs", "nixOverlays", "nixpkgsArchive", "aptPkgs",
        "cmds", "onlyIncludeFiles", "cacheDirectories", "paths"
    ]
    static let phaseAliases = [
        "nixPackages": "nixPkgs", "nixLibraries": "nixLibs", "aptPackages": "aptPkgs",
        "commands": "cmds", "envPaths": "paths"
    ]
    static let startKeys = ["cmd", "runImage", "onlyIncludeFiles", "user"]
    static let ociforgeKeys = [
        "build", "options", "docker", "config", "exclude", "gitignore", "secrets", "toolchains", "app"
    ]

    mutating func buildPlan(_ root: ConfigNode, extraKeys: [String] = []) throws(PlannerError) -> BuildPlanConfig {
        var plan = BuildPlanConfig()
        for entry in try table(root, "", keys: Self.planKeys + extraKeys, ignored: ["$schema"]) {
            switch entry.key {
            case "providers": plan.providers = try stringArray(entry.node, entry.path)
            case "buildImage": plan.buildImage = try string(entry.node, entry.path)
            case "variables": plan.variables = try stringMap(entry.node, entry.path)
            case "staticAssets": plan.staticAssets = try stringMap(entry.node, entry.path)
            case "phases":
                guard case let .table(phases) = entry.node.value else {
                    throw fail(
                        .type, "expected a table of phases, found \(entry.node.value.typeName)", entry.node, entry.path)
                }
                var out: [String: PhaseConfig] = [:]
                for (name, phaseNode) in phases {
                    try Self.validatePhaseName(name, phaseNode, "phases.\(name)", self)
                    out[name] = try phase(phaseNode, "phases.\(name)")
                }
                plan.phases = out
            case "start": plan.start = try start(entry.node, entry.path)
            default: break  // extra keys are read by the caller
            }
        }
        return plan
    }

    static func validatePhaseName(_ name: String, _ node: ConfigNode, _ path: String, _ reader: ConfigReader)
        throws(PlannerError)
    {
        let ok = !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || "-_:.".contains($0) }
        if !ok {
            throw reader.fail(.invalidValue, "phase names may contain only letters, digits and - _ : .", node, path)
        }
    }

    mutating func phase(_ node: ConfigNode, _ path: String) throws(PlannerError) -> PhaseConfig {
        var p = PhaseConfig()
        for e in try table(node, path, keys: Self.phaseKeys, aliases: Self.phaseAliases) {
            switch e.key {
            case "name": p.name = try string(e.node, e.path)
            case "dependsOn": p.dependsOn = try stringArray(e.node, e.path)
            case "nixPkgs": p.nixPkgs = try stringArray(e.node, e.path)
            case "nixLibs": p.nixLibs = try stringArray(e.node, e.path)
            case "nixOverlays": p.nixOverlays = try stringArray(e.node, e.path)
            case "nixpkgsArchive": p.nixpkgsArchive = try string(e.node, e.path)
            case "aptPkgs":
                let pkgs = try stringArray(e.node, e.path)
                try validateAptNames(pkgs, e.node, e.path)
                p.aptPkgs = pkgs
            case "cmds": p.cmds = try stringArray(e.node, e.path)
            case "onlyIncludeFiles": p.onlyIncludeFiles = try stringArray(e.node, e.path)
            case "cacheDirectories": p.cacheDirectories = try stringArray(e.node, e.path)
            case "paths": p.paths = try stringArray(e.node, e.path)
            default: break
            }
        }
        return p
    }

    mutating func start(_ node: ConfigNode, _ path: String) throws(PlannerError) -> StartConfig {
        var s = StartConfig()
        for e in try table(node, path, keys: Self.startKeys) {
            switch e.key {
            case "cmd": s.cmd = try string(e.node, e.path)
            case "runImage": s.runImage = try string(e.node, e.path)
            case "onlyIncludeFiles": s.onlyIncludeFiles = try stringArray(e.node, e.path)
            case "user":
                let user = try string(e.node, e.path)
                if user.isEmpty || user.contains(where: { $0 == " " || $0 == "\n" }) {
                    throw fail(.invalidValue, "a user is a name or uid[:gid] without spaces", e.node, e.path)
                }
                s.user = user
            default: break
            }
        }
        return s
    }

    /// `allowingSuite`: accept ociforge's `name/suite` form (phases' aptPkgs); Compartment's `packages` lists keep
    /// Compartment's own grammar, which has no `/`.
    func validateAptNames(_ names: [String], _ node: ConfigNode, _ path: String, allowingSuite: Bool = true)
        throws(PlannerError)
    {
        for (i, name) in names.enumerated() where !Merge.markers.contains(name) {
            if let problem = AptName.problem(name, allowingSuite: allowingSuite) {
                var itemNode = node
                if case let .array(items) = node.value, i < items.count { itemNode = items[i] }
                throw fail(.invalidValue, "invalid package name \"\(name)\": \(problem)", itemNode, "\(path)[\(i)]")
            }
        }
    }
}

/// Debian package name grammar as Compartment validates it: starts with a letter or digit, then letters, digits
/// and `. + : = ~ -` (the `=`, `:` and `~` allow version pins such as `curl=7.88.1-10+deb12u5`).
public enum AptName {
    /// `name`, `name=version` or `name/suite` (a package from another archive, e.g. `rustc/trixie-backports`).
    public static func problem(_ spec: String, allowingSuite: Bool = true) -> String? {
        var name = spec
        if allowingSuite, let slash = spec.firstIndex(of: "/") {
            let suite = spec[spec.index(after: slash)...]
            if suite.isEmpty
                || !suite.unicodeScalars.allSatisfy({
                    ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-"
                })
            {
                return "the suite after / must be lowercase letters, digits and -"
            }
            name = String(spec[..<slash])
        }
        guard let first = name.unicodeScalars.first else { return "the name is empty" }
        let alnum: (Unicode.Scalar) -> Bool = {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
        }
        if !alnum(first) { return "it must start with a letter or digit" }
        for s in name.unicodeScalars where !(alnum(s) || ".+:=~-".unicodeScalars.contains(s)) {
            return "character \"\(s)\" is not allowed (letters, digits and . + : = ~ - only)"
        }
        return nil
    }
}
