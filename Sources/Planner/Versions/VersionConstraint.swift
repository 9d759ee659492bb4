/// A version request as apps write it, matched against a list of releases the way mise and npm do:
/// semver ranges (`>=20 <23`, `a || b`, `1.2 - 1.4`), `^`, `~`, `x`/`*` wildcards, partial versions (`20` is the
/// newest 20.x.y; `1.2` matches 1.2.3 but not 1.20), PEP 440 `~=`/`==3.11.*`, Ruby `~>`, `lts/*` / `lts`,
/// codenames (`lts/iron`), `latest`, and exact versions. Prereleases match only when the request names one.
public struct VersionConstraint: Sendable, Equatable, CustomStringConvertible {
    public enum Alias: Sendable, Equatable {
        /// The newest release (`latest`, `*`, `stable`, `node`, `current`).
        case latest
        /// The newest release with an LTS codename (`lts`, `lts/*`).
        case lts
        /// The newest release of that LTS line (`lts/iron`, case-insensitive).
        case ltsCodename(String)
        /// A named channel only its upstream index knows (`nightly`, `beta`, `nightly-2024-05-01`).
        case channel(String)
    }

    enum Comparator: Sendable, Equatable {
        case prefix([Int])  // bare partial version: mise's fuzzy match
        case exact(SemanticVersion)  // a version with a prerelease
        case atLeast(SemanticVersion)  // >=
        case above([Int])  // >  (partial: beyond every version with that prefix)
        case below(SemanticVersion)  // <
        case atMost([Int])  // <= (partial: up to every version with that prefix)
        case not([Int])  // !=
        case sameLeading([Int], Int)  // the first n components equal (used by ^ ~ ~= ~>)
    }

    public let text: String
    public let alias: Alias?
    /// OR of ANDs.
    let alternatives: [[Comparator]]
    /// Prerelease versions named in the request: only these (by numeric components) admit prereleases.
    let prereleaseBases: [[Int]]

    /// Nil when the text is not a version request.
    public init?(_ raw: String) {
        let text = raw.trimmed(" \t\r\n")
        self.text = text
        let lower = text.lowercased()
        if ["", "*", "x", "latest", "stable", "node", "current"].contains(lower) {
            (alias, alternatives, prereleaseBases) = (.latest, [], [])
            return
        }
        if lower == "lts" || lower == "lts/*" {
            (alias, alternatives, prereleaseBases) = (.lts, [], [])
            return
        }
        if lower.hasPrefix("lts/") {
            let name = String(lower.dropFirst(4))
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter }) else { return nil }
            (alias, alternatives, prereleaseBases) = (.ltsCodename(name), [], [])
            return
        }
        if lower == "beta" || lower == "nightly" || lower.hasPrefix("nightly-") || lower.hasPrefix("beta-") {
            (alias, alternatives, prereleaseBases) = (.channel(lower), [], [])
            return
        }
        var alternatives: [[Comparator]] = []
        var bases: [[Int]] = []
        for alt in text.components(separatedBy: "||") {
            guard let comparators = Self.parseAlternative(alt, prereleaseBases: &bases) else { return nil }
            alternatives.append(comparators)
        }
        (alias, self.alternatives, prereleaseBases) = (nil, alternatives, bases)
    }

    public var description: String { text }

    /// True for requests whose answer moves with new releases (`latest`, `lts/*`, channels).
    public var isMoving: Bool {
        switch alias {
        case .latest?, .lts?, .channel?: return true
        default: return false
        }
    }

    /// The version when the request names exactly one release (`1.23.4`, `=20.11.0`, `v3.12.1`).
    public var exactVersion: SemanticVersion? {
        guard alias == nil, alternatives.count == 1, alternatives[0].count == 1 else { return nil }
        switch alternatives[0][0] {
        case let .exact(v): return v
        case let .prefix(p) where p.count >= 3: return SemanticVersion(p)
        default: return nil
        }
    }

    // MARK: matching

    /// Whether one release satisfies the request (aliases other than codenames need the whole list: see
    /// `newestMatch`; here `latest` matches any release and `lts` any release with a codename).
    public func matches(_ version: String, lts: String? = nil) -> Bool {
        guard let v = SemanticVersion(version) else { return false }
        switch alias {
        case .latest?: return !v.isPrerelease
        case .lts?: return !v.isPrerelease && !(lts ?? "").isEmpty
        case let .ltsCodename(name)?: return !v.isPrerelease && lts?.lowercased() == name
        case .channel?: return false
        case nil: break
        }
        if v.isPrerelease
            && !prereleaseBases.contains(where: {
                v.hasPrefix($0) && SemanticVersion($0).sameRelease(as: SemanticVersion(v.components))
            })
        {
            return false
        }
        return alternatives.contains { $0.allSatisfy { Self.check($0, v) } }
    }

    /// The newest candidate that satisfies the request; an exact textual match wins (mise).
    public func newestMatch(in candidates: [VersionCandidate]) -> VersionCandidate? {
        if alias == nil, let exact = candidates.first(where: { $0.version == text || "v" + $0.version == text }) {
            return exact
        }
        var best: (VersionCandidate, SemanticVersion)? = nil
        for c in candidates where matches(c.version, lts: c.lts) {
            guard let v = SemanticVersion(c.version) else { continue }
            if best == nil || best!.1 < v { best = (c, v) }
        }
        return best?.0
    }

    public func newestMatch(in versions: [String]) -> String? {
        newestMatch(in: versions.map { VersionCandidate($0) })?.version
    }

    static func check(_ c: Comparator, _ v: SemanticVersion) -> Bool {
        switch c {
        case let .prefix(p): return v.hasPrefix(p)
        case let .exact(e): return v.sameRelease(as: e)
        case let .atLeast(b): return !(v < b)
        case let .above(p): return !v.hasPrefix(p) && SemanticVersion(p) < v
        case let .below(b): return v < b
        case let .atMost(p): return v.hasPrefix(p) || v < SemanticVersion(p)
        case let .not(p): return !v.hasPrefix(p)
        case let .sameLeading(p, n): return v.hasPrefix(Array(p.prefix(n)))
        }
    }

    // MARK: parsing

    static let operators = ["~=", "~>", "==", ">=", "<=", "!=", ">", "<", "=", "^", "~"]

    static func parseAlternative(_ alt: String, prereleaseBases: inout [[Int]]) -> [Comparator]? {
        var tokens: [String] = []
        for raw in alt.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            let t = String(raw)
            if let last = tokens.last, operators.contains(last) {
                tokens[tokens.count - 1] = last + t
            } else {
                tokens.append(t)
            }
        }
        if tokens.isEmpty { return nil }
        // Hyphen range: `A - B`.
        if tokens.count == 3 && tokens[1] == "-" {
            guard let low = partial(tokens[0]), let high = partial(tokens[2]) else { return nil }
            return [.atLeast(SemanticVersion(low.numbers)), .atMost(high.numbers)]
        }
        var out: [Comparator] = []
        for token in tokens {
            guard let c = comparators(token, prereleaseBases: &prereleaseBases) else { return nil }
            out += c
        }
        return out
    }

    /// A partial version: numbers up to the first wildcard (`3.11.*` → [3, 11]), and the full version when it
    /// has a prerelease.
    static func partial(_ s: String) -> (numbers: [Int], full: SemanticVersion?)? {
        var t = Substring(s)
        if t.hasPrefix("v") || t.hasPrefix("V") { t = t.dropFirst() }
        if ["*", "x", "X"].contains(String(t)) { return ([], nil) }
        var numbers: [Int] = []
        for part in t.split(separator: ".", omittingEmptySubsequences: false) {
            if ["*", "x", "X"].contains(String(part)) { return (numbers, nil) }
            let digits = part.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int(digits) else { return nil }
            numbers.append(n)
            if digits.count != part.count {
                // A prerelease or build suffix (`0-rc.1`, `1rc1`): the full version carries it.
                guard let full = SemanticVersion(String(t)) else { return nil }
                return (full.components, full.isPrerelease ? full : nil)
            }
        }
        return numbers.isEmpty ? nil : (numbers, nil)
    }

    static func comparators(_ token: String, prereleaseBases: inout [[Int]]) -> [Comparator]? {
        let op = operators.first { token.hasPrefix($0) } ?? ""
        guard let (p, full) = partial(String(token.dropFirst(op.count))) else { return nil }
        if let full { prereleaseBases.append(full.components) }
        let v = full ?? SemanticVersion(p)
        if p.isEmpty { return op.isEmpty || op == "=" || op == "==" || op == ">=" ? [] : nil }
        switch op {
        case "", "=", "==": return [full.map { .exact($0) } ?? .prefix(p)]
        case ">=": return [.atLeast(v)]
        case ">": return [full.map { .above($0.components) } ?? .above(p)]
        case "<": return [.below(v)]
        case "<=": return [.atMost(p)]
        case "!=": return [.not(p)]
        case "^":
            let lead = p.firstIndex { $0 != 0 } ?? (p.count - 1)
            return [.atLeast(v), .sameLeading(p, lead + 1)]
        case "~": return [.atLeast(v), .sameLeading(p, min(2, p.count))]
        default:  // ~= (PEP 440) and ~> (Ruby): all but the last given component fixed
            return [.atLeast(v), .sameLeading(p, max(1, p.count - 1))]
        }
    }
}
