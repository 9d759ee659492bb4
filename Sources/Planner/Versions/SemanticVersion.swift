/// A release version as toolchain channels and Debian write it: numeric components (`20.11.0`, `1.24`,
/// `21.0.13.1`), an optional prerelease (`1.23rc1`, `3.13.0-beta.2`, `0.14.0-dev.1+abc`) and build metadata.
/// Missing trailing components compare as zero; a prerelease sorts before its release.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var components: [Int]
    /// Prerelease identifiers (`rc1`, `beta.2` → ["beta", "2"]); empty for a release.
    public var prerelease: [String]
    public var build: String?

    public init(_ components: [Int], prerelease: [String] = [], build: String? = nil) {
        self.components = components
        self.prerelease = prerelease
        self.build = build
    }

    /// Parses `v20.11.0`, `go1.23rc1`, `1.2.3-beta.1+build`, `ruby-3.3.0`. Nil when there is no leading number.
    public init?(_ text: String) {
        var s = Substring(text.trimmed(" \t\r\n"))
        for prefix in ["go", "ruby-", "python-", "v", "V"]
        where s.hasPrefix(prefix) && s.dropFirst(prefix.count).first?.isNumber == true {
            s = s.dropFirst(prefix.count)
            break
        }
        var build: String? = nil
        if let plus = s.firstIndex(of: "+") {
            build = String(s[s.index(after: plus)...])
            s = s[..<plus]
        }
        var components: [Int] = []
        var rest = s
        while let digits = Optional(rest.prefix(while: { $0.isASCII && $0.isNumber })), !digits.isEmpty,
            let n = Int(digits)
        {
            components.append(n)
            rest = rest.dropFirst(digits.count)
            if rest.first == ".", rest.dropFirst().first?.isNumber == true { rest = rest.dropFirst() } else { break }
        }
        guard !components.isEmpty else { return nil }
        if rest.first == "-" || rest.first == "." { rest = rest.dropFirst() }
        let pre = rest.split(whereSeparator: { $0 == "." || $0 == "-" }).map(String.init)
        self.init(components, prerelease: pre, build: build)
    }

    public var isPrerelease: Bool { !prerelease.isEmpty }
    public var major: Int { components[0] }
    public subscript(_ i: Int) -> Int { i < components.count ? components[i] : 0 }

    public var description: String {
        components.map(String.init).joined(separator: ".")
            + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
            + (build.map { "+" + $0 } ?? "")
    }

    /// Whether the first `prefix.count` components equal `prefix` (mise's fuzzy match: `1.2` matches 1.2.3, not 1.20).
    public func hasPrefix(_ prefix: [Int]) -> Bool {
        prefix.indices.allSatisfy { self[$0] == prefix[$0] }
    }

    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        for i in 0..<max(a.components.count, b.components.count) where a[i] != b[i] { return a[i] < b[i] }
        if a.prerelease.isEmpty != b.prerelease.isEmpty { return !a.prerelease.isEmpty }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case let (i?, j?): return i < j
            case (.some, nil): return true
            case (nil, .some): return false
            default: return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }

    /// Equal by precedence (build metadata ignored, `1.2` == `1.2.0`).
    public func sameRelease(as other: SemanticVersion) -> Bool { !(self < other) && !(other < self) }
}

/// One release a constraint may pick: its version as the channel writes it, and its LTS codename if it has one.
public struct VersionCandidate: Sendable, Hashable {
    public var version: String
    public var lts: String?
    public init(_ version: String, lts: String? = nil) {
        self.version = version
        self.lts = lts
    }
}
