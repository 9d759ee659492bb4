import Foundation

/// The parser directives found at the top of a Dockerfile.
public struct DockerfileDirectives: Codable, Equatable, Sendable {
    /// `# syntax=` (recorded; ociforge has one built-in front end and does not fetch another).
    public var syntax: String?
    /// `# escape=` (`\` or `` ` ``).
    public var escape: String
    /// `# check=` (BuildKit's lint configuration; ignored).
    public var check: String?
    public init(syntax: String? = nil, escape: String = "\\", check: String? = nil) {
        self.syntax = syntax
        self.escape = escape
        self.check = check
    }
}

/// A here-document attached to a RUN, COPY or ADD instruction.
public struct DockerfileHeredoc: Codable, Equatable, Sendable {
    /// The delimiter word (`EOF`).
    public var name: String
    /// The body exactly as written, every line ending in `\n` (tabs not stripped).
    public var raw: String
    /// The body with leading tabs removed from every line when the delimiter was `<<-`.
    public var content: String
    /// False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion.
    public var expand: Bool
    /// True for `<<-`.
    public var chomp: Bool
    /// The word as it appears in the instruction (`<<-"EOF"`).
    public var word: String
}

/// A `--name[=value]` flag of an instruction.
public struct DockerfileFlag: Codable, Equatable, Sendable {
    public var name: String
    public var value: String?
}

/// One instruction as parsed (before any variable substitution).
public struct DockerfileInstruction: Codable, Equatable, Sendable {
    /// Upper-cased keyword (`RUN`).
    public var keyword: String
    public var flags: [DockerfileFlag]
    /// The text after the keyword and the flags, continuation lines joined, trimmed.
    public var arguments: String
    /// The arguments as a JSON array of strings (exec form), when they are one.
    public var json: [String]?
    /// True when the arguments start with `[` but are not a JSON array of strings (Docker then uses shell form).
    public var looksLikeJSON: Bool
    public var heredocs: [DockerfileHeredoc]
    /// 1-based line of the keyword; `endLine` is the last line (continuations, heredoc bodies).
    public var line: Int
    public var endLine: Int
    /// The instruction text after the keyword (flags included), continuation lines joined — what history records.
    public var original: String
}

public struct DockerfileAST: Codable, Equatable, Sendable {
    /// The file name used in messages.
    public var file: String
    public var directives: DockerfileDirectives
    public var instructions: [DockerfileInstruction]
    public var warnings: [PlannerWarning]
}

/// The Dockerfile reader: comments, line continuations with the escape character, parser directives (only at the
/// top), flags, exec (JSON) and shell forms, heredocs. Errors carry the file and line.
public enum DockerfileParser {
    public static let instructions: Set<String> = [
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
        "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"
    ]
    static let heredocInstructions: Set<String> = ["RUN", "COPY", "ADD"]

    public static func parse(_ source: String, file: String) throws(PlannerError) -> DockerfileAST {
        var text = source
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var s = String(line)
            if s.hasSuffix("\r") { s.removeLast() }
            return s
        }
        if lines.last == "" { lines.removeLast() }
        var warnings: [PlannerWarning] = []
        var directives = DockerfileDirectives()
        var seen: Set<String> = []
        var i = 0
        // Parser directives: `# key=value` lines at the very top; the first other line ends them.
        while i < lines.count, let (key, value) = directive(lines[i]) {
            let lower = key.lowercased()
            guard ["syntax", "escape", "check"].contains(lower) else { break }
            guard !seen.contains(lower) else {
                throw PlannerError(.syntax, "only one \(lower) parser directive can be used", file: file, line: i + 1)
            }
            seen.insert(lower)
            switch lower {
            case "escape":
                guard value == "\\" || value == "`" else {
                    throw PlannerError(
                        .syntax, "invalid escape token '\(value)': it must be ` or \\", file: file, line: i + 1)
                }
                directives.escape = value
            case "syntax":
                directives.syntax = value
                warnings.append(
                    PlannerWarning(
                        "# syntax=\(value) is recorded but not fetched: ociforge parses Dockerfiles with its own front end",
                        file: file, line: i + 1))
            default:
                directives.check = value
                warnings.append(
                    PlannerWarning(
                        "# check=\(value) is ignored (ociforge does not run BuildKit's lint checks)", file: file,
                        line: i + 1))
            }
            i += 1
        }
        let escape = Character(directives.escape)
        var out: [DockerfileInstruction] = []
        while i < lines.count {
            let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                i += 1
                continue
            }
            let start = i
            var logical = ""
            while true {
                let line = lines[i]
                i += 1
                if let body = continued(line, escape: escape) {
                    logical += body
                    // Comment lines and empty lines inside a continued instruction are dropped.
                    var sawEmpty = false
                    while i < lines.count {
                        let t = lines[i].trimmingCharacters(in: .whitespaces)
                        if t.hasPrefix("#") {
                            i += 1
                        } else if t.isEmpty {
                            sawEmpty = true
                            i += 1
                        } else {
                            break
                        }
                    }
                    if sawEmpty {
                        warnings.append(
                            PlannerWarning(
                                "empty continuation line (an empty line inside an instruction continued with \(escape)); it is ignored",
                                file: file, line: start + 1))
                    }
                    if i >= lines.count { break }
                } else {
                    logical += line
                    break
                }
            }
            var instruction = try parseLogical(logical, line: start + 1, file: file, escape: escape)
            instruction.endLine = i
            if heredocInstructions.contains(instruction.keyword) {
                let words = heredocWords(instruction.arguments)
                for word in words {
                    guard let marker = heredocMarker(word) else { continue }
                    var body: [String] = []
                    var closed = false
                    while i < lines.count {
                        let l = lines[i]
                        i += 1
                        let compare = marker.chomp ? String(l.drop { $0 == "\t" }) : l
                        if compare == marker.name {
                            closed = true
                            break
                        }
                        body.append(l)
                    }
                    guard closed else {
                        throw PlannerError(
                            .syntax, "unterminated heredoc: no line `\(marker.name)` closes \(word)", file: file,
                            line: start + 1)
                    }
                    let raw = body.map { $0 + "\n" }.joined()
                    let content = marker.chomp ? body.map { String($0.drop { $0 == "\t" }) + "\n" }.joined() : raw
                    instruction.heredocs.append(
                        DockerfileHeredoc(
                            name: marker.name, raw: raw, content: content,
                            expand: !marker.quoted, chomp: marker.chomp, word: word))
                }
                instruction.endLine = i
            }
            out.append(instruction)
        }
        return DockerfileAST(file: file, directives: directives, instructions: out, warnings: warnings)
    }

    /// `# key = value` at the top of the file.
    static func directive(_ line: String) -> (String, String)? {
        var s = Substring(line)
        s = s.drop { $0 == " " || $0 == "\t" }
        guard s.first == "#" else { return nil }
        s = s.dropFirst().drop { $0 == " " || $0 == "\t" }
        let key = s.prefix { $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard let f = key.first, f.isLetter else { return nil }
        s = s.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
        guard s.first == "=" else { return nil }
        let value = s.dropFirst().trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { return nil }
        return (String(key), value)
    }

    /// The line without its trailing escape character when it continues on the next line.
    static func continued(_ line: String, escape: Character) -> String? {
        var s = Substring(line)
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        guard s.last == escape else { return nil }
        s.removeLast()
        return String(s)
    }

    static func parseLogical(_ logical: String, line: Int, file: String, escape: Character) throws(PlannerError)
        -> DockerfileInstruction
    {
        let s = logical.drop { $0 == " " || $0 == "\t" }
        let keywordText = s.prefix { $0 != " " && $0 != "\t" }
        let keyword = keywordText.uppercased()
        guard instructions.contains(keyword) else {
            let hint =
                DockerfileResolver.suggestion(keyword, instructions.sorted()).map {
                    " (did you mean \($0.lowercased())?)"
                } ?? ""
            throw PlannerError(
                .unknownInstruction, "unknown instruction: \(keywordText)\(hint)", file: file, line: line)
        }
        let rest = s.dropFirst(keywordText.count).trimmingCharacters(in: .whitespaces)
        var flags: [DockerfileFlag] = []
        var args = Substring(rest)
        if keyword != "ONBUILD" {
            (flags, args) = try extractFlags(Substring(rest), file: file, line: line)
        }
        let arguments = args.trimmingCharacters(in: .whitespaces)
        var json: [String]? = nil
        var looksLikeJSON = false
        if arguments.hasPrefix("[") {
            looksLikeJSON = true
            if let data = arguments.data(using: .utf8),
                let array = try? JSONSerialization.jsonObject(with: data, options: []) as? [Any]
            {
                guard array.allSatisfy({ $0 is String }) || !["RUN", "CMD", "ENTRYPOINT", "SHELL"].contains(keyword)
                else {
                    throw PlannerError(
                        .syntax, "when using JSON array syntax, arrays must be comprised of strings only", file: file,
                        line: line)
                }
                if array.allSatisfy({ $0 is String }) {
                    json = array.map { $0 as! String }
                    looksLikeJSON = false
                }
            }
        }
        return DockerfileInstruction(
            keyword: keyword, flags: flags, arguments: arguments, json: json, looksLikeJSON: looksLikeJSON,
            heredocs: [], line: line, endLine: line, original: rest)
    }

    /// Leading `--name[=value]` words; quotes inside a flag word are removed; `--` alone ends the flags.
    static func extractFlags(_ text: Substring, file: String, line: Int) throws(PlannerError) -> (
        [DockerfileFlag], Substring
    ) {
        var flags: [DockerfileFlag] = []
        var s = text
        while true {
            s = s.drop { $0 == " " || $0 == "\t" }
            guard s.hasPrefix("--") else { break }
            var word = ""
            var quote: Character? = nil
            var idx = s.startIndex
            while idx < s.endIndex {
                let c = s[idx]
                if let q = quote {
                    if c == q { quote = nil } else { word.append(c) }
                } else if c == "\"" || c == "'" {
                    quote = c
                } else if c == " " || c == "\t" {
                    break
                } else {
                    word.append(c)
                }
                idx = s.index(after: idx)
            }
            if quote != nil {
                throw PlannerError(.syntax, "unterminated quote in flag \(s[..<idx])", file: file, line: line)
            }
            s = s[idx...]
            if word == "--" { break }
            let body = word.dropFirst(2)
            if let eq = body.firstIndex(of: "=") {
                flags.append(DockerfileFlag(name: String(body[..<eq]), value: String(body[body.index(after: eq)...])))
            } else {
                guard !body.isEmpty else { throw PlannerError(.syntax, "empty flag name", file: file, line: line) }
                flags.append(DockerfileFlag(name: String(body), value: nil))
            }
        }
        return (flags, s)
    }

    /// Whitespace-separated words, quotes kept (used to find heredoc markers).
    static func heredocWords(_ text: String) -> [String] {
        var words: [String] = []
        var cur = ""
        var quote: Character? = nil
        for c in text {
            if let q = quote {
                cur.append(c)
                if c == q { quote = nil }
            } else if c == " " || c == "\t" {
                if !cur.isEmpty {
                    words.append(cur)
                    cur = ""
                }
            } else {
                if (c == "\"" || c == "'") && !cur.hasPrefix("<<") { quote = c }
                cur.append(c)
            }
        }
        if !cur.isEmpty { words.append(cur) }
        return words
    }

    struct HeredocMarker {
        var name: String
        var chomp: Bool
        var quoted: Bool
    }

    static func heredocMarker(_ word: String) -> HeredocMarker? {
        guard word.hasPrefix("<<"), !word.hasPrefix("<<<") else { return nil }
        var s = word.dropFirst(2)
        var chomp = false
        if s.first == "-" {
            chomp = true
            s = s.dropFirst()
        }
        var quoted = false
        if let q = s.first, q == "\"" || q == "'" {
            guard s.count >= 2, s.last == q else { return nil }
            quoted = true
            s = s.dropFirst().dropLast()
        }
        // `<<EOF>file` style: the delimiter ends at the first redirection character.
        let name = s.prefix { !"<>|;&".contains($0) }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." })
        else { return nil }
        return HeredocMarker(name: String(name), chomp: chomp, quoted: quoted)
    }
}
