import Foundation

/// Which files of the app directory are left out of the build: `.dockerignore`, `ociforge.toml` `exclude` and the
/// frozen plan file with Docker's rules, `.gitignore` with git's, applied in order; the last matching rule wins and
/// `!` negates.
///
/// Docker rules (moby/patternmatcher as BuildKit reads `.dockerignore`): each pattern is cleaned with
/// `filepath.Clean` (so a trailing `/` is dropped: `__pycache__/` also excludes a *file* named `__pycache__`), a
/// leading `/` is removed, the pattern is anchored at the root and matches a path or any of its parent
/// directories; `*`/`?` stay within a segment and `**` spans segments (see `DockerignoreMatcher`).
/// Git rules: a pattern without a slash (other than a trailing one) matches at any depth; a trailing slash
/// matches directories only; a leading or inner slash anchors it.
public struct IgnoreRules: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        case docker(DockerignoreMatcher.Pattern)
        case git(GitRule)
    }

    public struct GitRule: Sendable, Equatable {
        public var pattern: String
        public var negated: Bool
        public var directoryOnly: Bool
        var segments: [String]
    }

    public private(set) var rules: [Rule] = []
    /// The rules as recorded in the plan: Docker patterns cleaned (`!` kept), git ones as `gitignore:<line>`.
    public private(set) var patterns: [String] = []

    public init() {}

    /// Adds a `.dockerignore` text (or `exclude` list joined by newlines); a pattern Docker would refuse is an
    /// error naming `file` and the line.
    public mutating func addDockerignore(_ text: String, file: String) throws(PlannerError) {
        let matcher = try DockerignoreMatcher(text: text, file: file)
        for p in matcher.compiled {
            rules.append(.docker(p))
            patterns.append(p.exclusion ? "!" + p.text : p.text)
        }
    }

    public mutating func addGitignore(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmed(" \t\r")
            if t.isEmpty || t.hasPrefix("#") { continue }
            addGit(t)
        }
    }

    /// One pattern in either dialect.
    public mutating func add(_ raw: String, gitStyle: Bool) throws(PlannerError) {
        if gitStyle { addGit(raw) } else { try addDockerignore(raw, file: "exclude") }
    }

    mutating func addGit(_ raw: String) {
        var p = raw
        var negated = false
        if p.hasPrefix("!") {
            negated = true
            p.removeFirst()
        }
        var directoryOnly = false
        if p.hasSuffix("/") {
            directoryOnly = true
            while p.hasSuffix("/") { p.removeLast() }
        }
        var anchored = false
        if p.hasPrefix("/") {
            anchored = true
            while p.hasPrefix("/") { p.removeFirst() }
        }
        if p.contains("/") { anchored = true }
        if p.hasPrefix("./") { p.removeFirst(2) }
        guard !p.isEmpty else { return }
        var segments = p.split(separator: "/").map(String.init).filter { $0 != "." }
        if !anchored { segments.insert("**", at: 0) }
        rules.append(.git(GitRule(pattern: raw, negated: negated, directoryOnly: directoryOnly, segments: segments)))
        patterns.append("gitignore:" + raw)
    }

    /// Whether a file (relative path) is excluded.
    public func excludes(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        var excluded = false
        for rule in rules {
            switch rule {
            case let .docker(p):
                if p.matches(path) { excluded = !p.exclusion }
            case let .git(g):
                // The file itself (unless the rule is for directories only) or any of its parent directories.
                let upper = g.directoryOnly ? parts.count - 1 : parts.count
                guard upper >= 1 else { continue }
                for n in 1...upper where Self.match(g.segments[...], parts[0..<n]) {
                    excluded = !g.negated
                    break
                }
            }
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

    /// Shell glob for one path segment (git's fnmatch): `*`, `?`, `[...]` (`!`/`^` negate), `\` escapes.
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
                if let f = set.first, f == "!" || f == "^" {
                    negate = true
                    set.removeFirst()
                }
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
