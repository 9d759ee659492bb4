import Foundation

/// `.dockerignore` matching as Docker does it: patterns are cleaned (`filepath.Clean`, a leading `/` removed),
/// matched against the whole relative path or any of its parent directories; `*` and `?` stay within a path
/// segment, `**` spans any number of segments, `[...]` classes and `\` escapes; `!` re-includes; the last
/// matching pattern wins.
public struct DockerignoreMatcher: Sendable {
    /// One cleaned pattern: matches a path when it matches the path itself or one of its parent directories.
    public struct Pattern: @unchecked Sendable, Equatable {
        /// Cleaned (`filepath.Clean`, leading `/` removed), without the `!`.
        public var text: String
        public var exclusion: Bool
        var regex: NSRegularExpression

        public static func == (a: Pattern, b: Pattern) -> Bool { a.text == b.text && a.exclusion == b.exclusion }

        /// Docker's `MatchesOrParentMatches` test for this one pattern (relative path, no leading `./`).
        public func matches(_ path: String) -> Bool {
            if DockerignoreMatcher.matches(regex, path) { return true }
            let parts = path.split(separator: "/")
            guard parts.count > 1 else { return false }
            for n in 1..<parts.count where DockerignoreMatcher.matches(regex, parts[0..<n].joined(separator: "/")) {
                return true
            }
            return false
        }
    }
    public private(set) var compiled: [Pattern] = []
    /// The patterns as written (cleaned), `!` kept.
    public private(set) var patterns: [String] = []
    public var hasExclusions: Bool { compiled.contains { $0.exclusion } }

    public init() {}

    /// Parses a .dockerignore text. A pattern that cannot be compiled is an error naming its line.
    public init(text: String, file: String) throws(PlannerError) {
        var lineNo = 0
        var body = text
        if body.hasPrefix("\u{FEFF}") { body.removeFirst() }
        for raw in body.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            // A comment only when `#` is in column 1 (`  # x` is the pattern `# x`).
            if raw.hasPrefix("#") { continue }
            var p = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if p.isEmpty { continue }
            var exclusion = false
            if p.hasPrefix("!") {
                exclusion = true
                p = String(p.dropFirst()).trimmingCharacters(in: .whitespaces)
                if p.isEmpty {
                    throw PlannerError(.syntax, "illegal exclusion pattern: \"!\"", file: file, line: lineNo)
                }
            }
            p = DockerfilePaths.clean(p)
            if p.count > 1 && p.hasPrefix("/") { p.removeFirst() }
            guard let regex = Self.compile(p) else {
                throw PlannerError(.syntax, "invalid .dockerignore pattern \"\(raw)\"", file: file, line: lineNo)
            }
            compiled.append(Pattern(text: p, exclusion: exclusion, regex: regex))
            patterns.append(exclusion ? "!" + p : p)
        }
    }

    static func compile(_ pattern: String) -> NSRegularExpression? {
        var re = "^"
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "*" {
                if i + 1 < chars.count && chars[i + 1] == "*" {
                    i += 1
                    if i + 1 < chars.count && chars[i + 1] == "/" { i += 1 }
                    if i + 1 >= chars.count {
                        re += ".*"
                    } else {
                        re += "(.*/)?"
                    }
                } else {
                    re += "[^/]*"
                }
            } else if c == "?" {
                re += "[^/]"
            } else if c == "[" {
                guard let close = chars[(i + 1)...].firstIndex(of: "]") else { return nil }
                let cls = String(chars[(i + 1)..<close])
                re +=
                    "[" + cls.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "[", with: "\\[")
                    + "]"
                i = close
            } else if c == "\\" {
                i += 1
                guard i < chars.count else { return nil }
                re += NSRegularExpression.escapedPattern(for: String(chars[i]))
            } else {
                re += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        re += "$"
        return try? NSRegularExpression(pattern: re)
    }

    static func matches(_ regex: NSRegularExpression, _ s: String) -> Bool {
        regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// Whether a relative path (no leading `./`) is excluded.
    public func excludes(_ path: String) -> Bool {
        var excluded = false
        for p in compiled {
            if p.exclusion != excluded { continue }
            if p.matches(path) { excluded = !p.exclusion }
        }
        return excluded
    }
}

enum DockerfilePaths {
    /// Go's `path.Clean`.
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var out: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = out.last, last != ".." { out.removeLast() } else if !rooted { out.append(part) }
                continue
            }
            out.append(part)
        }
        let joined = out.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// `path.Join(base, rel)` for an absolute base; absolute `rel` wins.
    static func join(_ base: String, _ rel: String) -> String {
        rel.hasPrefix("/") ? clean(rel) : clean(base + "/" + rel)
    }

    /// A source path relative to the context root: `..` cannot leave it, a leading `/` is the root.
    static func contextRelative(_ path: String) -> String {
        let c = clean("/" + path)
        return c == "/" ? "" : String(c.dropFirst())
    }

    static func basename(_ path: String) -> String {
        let c = clean(path)
        if c == "/" { return "/" }
        return c.split(separator: "/").last.map(String.init) ?? c
    }
}

/// The build context as the executor will see it: every entry not excluded by `.dockerignore` (or the
/// Dockerfile-specific `<Dockerfile>.dockerignore`), with its type.
public struct DockerfileContextTree: Sendable {
    public let root: String
    /// Relative path → type, for every entry kept (directories included; the root is "").
    public let entries: [String: DockerfileCopyEntry.EntryType]
    /// Sorted relative paths (by bytes); directories end in `/`.
    public let listing: [String]
    public let ignore: DockerignoreMatcher
    /// The ignore file that was read (relative to the context), if any.
    public let ignoreFile: String?

    /// - Parameters:
    ///   - root: the context directory.
    ///   - dockerfileIgnore: `<Dockerfile>.dockerignore` beside the Dockerfile (absolute path, and its display
    ///     name); it wins over the context's `.dockerignore` when it exists.
    public init(root: String, dockerfileIgnore: (path: String, display: String)? = nil) throws(PlannerError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw PlannerError(.io, "the build context does not exist or is not a directory", file: root)
        }
        self.root = root
        var ignoreFile: String? = nil
        var ignorePath: String? = nil
        if let d = dockerfileIgnore, FileManager.default.fileExists(atPath: d.path) {
            ignoreFile = d.display
            ignorePath = d.path
        } else if FileManager.default.fileExists(atPath: root + "/.dockerignore") {
            ignoreFile = ".dockerignore"
            ignorePath = root + "/.dockerignore"
        }
        var matcher = DockerignoreMatcher()
        if let f = ignoreFile, let ignorePath {
            guard let data = FileManager.default.contents(atPath: ignorePath) else {
                throw PlannerError(.io, "cannot read \(f)", file: f)
            }
            matcher = try DockerignoreMatcher(text: String(decoding: data, as: UTF8.self), file: f)
        }
        self.ignore = matcher
        self.ignoreFile = ignoreFile
        var entries: [String: DockerfileCopyEntry.EntryType] = ["": .directory]
        Self.walk(root, "", matcher, &entries)
        self.entries = entries
        self.listing = entries.filter { !$0.key.isEmpty }.map { $0.value == .directory ? $0.key + "/" : $0.key }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    init(root: String, entries: [String: DockerfileCopyEntry.EntryType]) {
        self.root = root
        self.entries = entries
        self.listing = entries.filter { !$0.key.isEmpty }.map { $0.value == .directory ? $0.key + "/" : $0.key }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        self.ignore = DockerignoreMatcher()
        self.ignoreFile = nil
    }

    /// Walks everything; an excluded directory is entered only when `!` patterns could re-include below it.
    /// Returns whether anything under `rel` was kept.
    @discardableResult
    static func walk(
        _ base: String, _ rel: String, _ m: DockerignoreMatcher, _ out: inout [String: DockerfileCopyEntry.EntryType]
    ) -> Bool {
        let dir = rel.isEmpty ? base : base + "/" + rel
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return false }
        var kept = false
        for name in names {
            let childRel = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(base + "/" + childRel, &st) == 0 else { continue }
            let excluded = m.excludes(childRel)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if excluded && !m.hasExclusions { continue }
                let inner = walk(base, childRel, m, &out)
                if !excluded || inner {
                    out[childRel] = .directory
                    kept = true
                }
            case S_IFLNK:
                if !excluded {
                    out[childRel] = .symlink
                    kept = true
                }
            case S_IFREG:
                if !excluded {
                    out[childRel] = .file
                    kept = true
                }
            default:
                continue  // sockets, fifos, devices are not sent
            }
        }
        return kept
    }

    /// The context entries directly below or deep below `dir` ("" for the root), sorted.
    func descendants(of dir: String) -> [String] {
        let prefix = dir.isEmpty ? "" : dir + "/"
        return entries.keys.filter { !$0.isEmpty && $0.hasPrefix(prefix) }.sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
    }

    /// Resolves a symlink inside the context (relative target), following up to 40 links; nil when it leaves
    /// the context or dangles.
    func followSymlink(_ rel: String) -> String? {
        var current = rel
        for _ in 0..<40 {
            guard entries[current] == .symlink else { return entries[current] == nil ? nil : current }
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + current) else {
                return nil
            }
            let parent = current.split(separator: "/").dropLast().joined(separator: "/")
            current = DockerfilePaths.contextRelative(target.hasPrefix("/") ? target : parent + "/" + target)
        }
        return nil
    }

    /// The archive kind of a context file, from its first bytes.
    func archiveKind(_ rel: String) -> DockerfileCopyEntry.Archive? {
        guard let h = FileHandle(forReadingAtPath: root + "/" + rel) else { return nil }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 512)) ?? Data())
        if head.starts(with: [0x1F, 0x8B]) { return .gzip }
        if head.starts(with: [0x42, 0x5A, 0x68]) { return .bzip2 }
        if head.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
        return nil
    }
}
