import Foundation

/// Read-only view of the app directory: the only thing the Planner reads.
public struct AppDirectory: Sendable {
    public let root: String
    /// Every regular file (and symlink), relative, sorted by bytes; `.git` is never listed.
    public let allFiles: [String]
    private let fileSet: Set<String>

    public init(root: String) throws(PlannerError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw PlannerError(.io, "the app directory does not exist or is not a directory", file: root)
        }
        self.root = root
        var files: [String] = []
        Self.walk(root, "", into: &files)
        files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        self.allFiles = files
        self.fileSet = Set(files)
    }

    private static func walk(_ base: String, _ rel: String, into files: inout [String]) {
        let dir = rel.isEmpty ? base : base + "/" + rel
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            if rel.isEmpty && name == ".git" { continue }
            let childRel = rel.isEmpty ? name : rel + "/" + name
            let full = base + "/" + childRel
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(base, childRel, into: &files)
            } else {
                files.append(childRel)
            }
        }
    }

    public func has(_ path: String) -> Bool { fileSet.contains(path) }

    public func hasDirectory(_ path: String) -> Bool {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return allFiles.contains { $0.hasPrefix(prefix) }
    }

    public func read(_ path: String) -> String? {
        guard has(path) else { return nil }
        return try? String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    /// Top-level entries (files and directories) of the app directory.
    public var topLevelDirectories: [String] {
        var dirs = Set<String>()
        for file in allFiles { if let slash = file.firstIndex(of: "/") { dirs.insert(String(file[..<slash])) } }
        return dirs.sorted()
    }

    public var topLevelFiles: [String] { allFiles.filter { !$0.contains("/") } }

    func json(_ path: String) throws(PlannerError) -> ConfigNode? {
        guard let text = read(path) else { return nil }
        return try ConfigParser.parse(text, format: .json, file: path)
    }

    func toml(_ path: String) throws(PlannerError) -> ConfigNode? {
        guard let text = read(path) else { return nil }
        return try ConfigParser.parse(text, format: .toml, file: path)
    }

    func files(withSuffix suffix: String, maxDepth: Int = 0) -> [String] {
        allFiles.filter { $0.hasSuffix(suffix) && $0.split(separator: "/").count <= maxDepth + 1 }
    }

    /// First line of a file (version files like .nvmrc), without comments and whitespace.
    func firstLine(_ path: String) -> String? {
        guard let text = read(path) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmed(" \t\r")
            if !t.isEmpty && !t.hasPrefix("#") { return t }
        }
        return nil
    }

    /// `.tool-versions` (asdf) entry for a tool.
    func toolVersion(_ names: [String]) -> String? {
        guard let text = read(".tool-versions") else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, names.contains(String(parts[0])) { return String(parts[1]) }
        }
        return nil
    }
}

extension ConfigNode {
    subscript(key: String) -> ConfigNode? {
        guard case let .table(entries) = value else { return nil }
        return entries.first { $0.key == key }?.node
    }
    var stringValue: String? { if case let .string(s) = value { return s } else { return nil } }
    var keys: [String] { if case let .table(e) = value { return e.map(\.key) } else { return [] } }
    var arrayValue: [ConfigNode]? { if case let .array(a) = value { return a } else { return nil } }
}

/// `.dockerignore` / `.gitignore` matching. Patterns are applied in order and the last match wins; `!` negates.
/// Docker semantics: a pattern is anchored at the root and also excludes everything under a matched directory.
/// Git semantics: a pattern without a slash (other than a trailing one) matches at any depth; a trailing slash
/// matches directories only.
public struct IgnoreRules: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var pattern: String
        public var negated: Bool
        public var anchored: Bool
        public var directoryOnly: Bool
        var segments: [String]
    }

    public private(set) var rules: [Rule] = []
    public private(set) var patterns: [String] = []

    public init() {}

    public mutating func addDockerignore(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmed(" \t\r")
            if t.isEmpty || t.hasPrefix("#") { continue }
            add(t, gitStyle: false)
        }
    }

    public mutating func addGitignore(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmed(" \t\r")
            if t.isEmpty || t.hasPrefix("#") { continue }
            add(t, gitStyle: true)
        }
    }

    public mutating func add(_ raw: String, gitStyle: Bool) {
        var p = raw
        var negated = false
        if p.hasPrefix("!") { negated = true; p.removeFirst() }
        var directoryOnly = false
        if p.hasSuffix("/") { directoryOnly = true; while p.hasSuffix("/") { p.removeLast() } }
        var anchored = !gitStyle
        if p.hasPrefix("/") { anchored = true; while p.hasPrefix("/") { p.removeFirst() } }
        if gitStyle && p.contains("/") { anchored = true }
        if p.hasPrefix("./") { p.removeFirst(2) }
        guard !p.isEmpty else { return }
        var segments = p.split(separator: "/").map(String.init).filter { $0 != "." }
        if !anchored { segments.insert("**", at: 0) }
        rules.append(Rule(pattern: raw, negated: negated, anchored: anchored, directoryOnly: directoryOnly,
                          segments: segments))
        patterns.append(gitStyle ? "gitignore:" + raw : raw)
    }

    /// Whether a file (relative path) is excluded.
    public func excludes(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        var excluded = false
        for rule in rules {
            // A rule matches the file itself or any of its parent directories.
            var matched = false
            let upper = rule.directoryOnly ? parts.count - 1 : parts.count
            if upper >= 1 {
                for n in 1...upper where Self.match(rule.segments[...], parts[0..<n]) { matched = true; break }
            }
            if matched { excluded = !rule.negated }
        }
        return excluded
    }

    static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            var p = path
            while true {
                if match(rest, p) { return true }
                if p.isEmpty { return false }
                p = p.dropFirst()
            }
        }
        guard let head = path.first, glob(first, head) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// Shell glob for one path segment: `*`, `?`, `[...]`, `\` escapes.
    static func glob(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern), n = Array(name)
        func go(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == n.count }
            switch p[i] {
            case "*":
                var k = j
                while true {
                    if go(i + 1, k) { return true }
                    if k == n.count { return false }
                    k += 1
                }
            case "?":
                return j < n.count && go(i + 1, j + 1)
            case "[":
                guard j < n.count, let close = p[(i + 1)...].firstIndex(of: "]") else { return false }
                var set = Array(p[(i + 1)..<close])
                var negate = false
                if let f = set.first, f == "!" || f == "^" { negate = true; set.removeFirst() }
                var hit = false
                var k = 0
                while k < set.count {
                    if k + 2 < set.count && set[k + 1] == "-" {
                        if set[k] <= n[j] && n[j] <= set[k + 2] { hit = true }
                        k += 3
                    } else {
                        if set[k] == n[j] { hit = true }
                        k += 1
                    }
                }
                return hit != negate && go(close + 1, j + 1)
            case "\\" where i + 1 < p.count:
                return j < n.count && p[i + 1] == n[j] && go(i + 2, j + 1)
            default:
                return j < n.count && p[i] == n[j] && go(i + 1, j + 1)
            }
        }
        return go(0, 0)
    }
}
