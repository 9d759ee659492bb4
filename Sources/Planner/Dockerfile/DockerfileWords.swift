/// Docker's word processing for instructions that substitute variables: `$VAR`, `${VAR}`, `${VAR:-word}`,
/// `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#p}`, `${VAR##p}`, `${VAR%p}`,
/// `${VAR%%p}`; single quotes are literal, double quotes allow substitution, the escape character makes the next
/// character literal (inside double quotes only before `"`, `$` and itself). Quotes are removed.
public struct DockerfileWords: Sendable {
    public var escape: Character
    public init(escape: Character = "\\") { self.escape = escape }

    public struct Failure: Error, Equatable, Sendable { public var message: String }

    /// One word: substitution and quote removal, whitespace kept.
    public func word(_ text: String, _ env: [String: String]) throws(Failure) -> String {
        var lexer = Lexer(chars: Array(text), escape: escape, env: env, split: false)
        return try lexer.run().joined()
    }

    /// A COPY/ADD heredoc body with an unquoted delimiter: substitution, and the escape character escapes the
    /// next character and is dropped; quotes are ordinary characters.
    public func heredoc(_ text: String, _ env: [String: String]) throws(Failure) -> String {
        var lexer = Lexer(chars: Array(text), escape: escape, env: env, split: false)
        lexer.quotesLiteral = true
        return try lexer.run().joined()
    }

    /// Words: like `word`, then split at unquoted whitespace (including whitespace that unquoted substitutions
    /// produce).
    public func words(_ text: String, _ env: [String: String]) throws(Failure) -> [String] {
        var lexer = Lexer(chars: Array(text), escape: escape, env: env, split: true)
        return try lexer.run()
    }

    struct Lexer {
        let chars: [Character]
        let escape: Character
        let env: [String: String]
        let split: Bool
        var quotesLiteral = false
        var pos = 0
        var words: [String] = []
        var current = ""
        var inWord = false

        init(chars: [Character], escape: Character, env: [String: String], split: Bool) {
            self.chars = chars
            self.escape = escape
            self.env = env
            self.split = split
        }

        mutating func raw(_ c: Character) {
            current.append(c)
            inWord = true
        }
        mutating func raw(_ s: String) {
            current += s
            inWord = true
        }
        /// Unquoted text from a substitution: splits at whitespace in words mode.
        mutating func splitting(_ s: String) {
            for c in s {
                if split && (c == " " || c == "\t" || c == "\n") { endWord() } else { raw(c) }
            }
        }
        mutating func endWord() {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        }

        mutating func run() throws(Failure) -> [String] {
            while pos < chars.count {
                let c = chars[pos]
                if split && (c == " " || c == "\t" || c == "\n") {
                    endWord()
                    pos += 1
                    continue
                }
                switch c {
                case "'" where !quotesLiteral:
                    pos += 1
                    inWord = true
                    while pos < chars.count && chars[pos] != "'" {
                        raw(chars[pos])
                        pos += 1
                    }
                    guard pos < chars.count else {
                        throw Failure(message: "unexpected end of statement while looking for matching single-quote")
                    }
                    pos += 1
                case "\"" where !quotesLiteral:
                    pos += 1
                    inWord = true
                    try doubleQuoted()
                case "$":
                    let (value, quotedContext) = try dollar()
                    if quotedContext { raw(value) } else { splitting(value) }
                case escape:
                    pos += 1
                    if pos < chars.count {
                        raw(chars[pos])
                        pos += 1
                    } else {
                        raw(c)
                    }
                default:
                    raw(c)
                    pos += 1
                }
            }
            endWord()
            return split ? words : [words.joined()]
        }

        mutating func doubleQuoted() throws(Failure) {
            while pos < chars.count {
                let c = chars[pos]
                if c == "\"" {
                    pos += 1
                    return
                }
                if c == "$" {
                    let (value, _) = try dollar()
                    raw(value)
                    continue
                }
                if c == escape, pos + 1 < chars.count, ["\"", "$", escape].contains(chars[pos + 1]) {
                    raw(chars[pos + 1])
                    pos += 2
                    continue
                }
                raw(c)
                pos += 1
            }
            throw Failure(message: "unexpected end of statement while looking for matching double-quote")
        }

        /// BuildKit's names: letters, digits and `_`; a leading digit takes only the digits; one special
        /// parameter character (`@ * # ? - $ ! 0`) is a name of its own (looked up like any other, so usually "").
        func name(from start: Int) -> Int {
            var p = start
            guard p < chars.count else { return p }
            if chars[p].isNumber {
                while p < chars.count, chars[p].isNumber { p += 1 }
                return p
            }
            if "@*#?-$!".contains(chars[p]) { return p + 1 }
            while p < chars.count, chars[p].isLetter || chars[p].isNumber || chars[p] == "_" { p += 1 }
            return p
        }

        /// At `$`: the substituted value (`$` alone is literal).
        mutating func dollar() throws(Failure) -> (String, Bool) {
            pos += 1
            guard pos < chars.count else { return ("$", true) }
            if chars[pos] != "{" {
                let end = name(from: pos)
                if end == pos { return ("$", true) }
                let n = String(chars[pos..<end])
                pos = end
                return (env[n] ?? "", false)
            }
            pos += 1
            guard pos < chars.count else { throw Failure(message: "syntax error: missing '}'") }
            if "{}:".contains(chars[pos]) { throw Failure(message: "syntax error: bad substitution") }
            let end = name(from: pos)
            let n = String(chars[pos..<end])
            guard !n.isEmpty else { throw Failure(message: "syntax error: bad substitution") }
            pos = end
            guard pos < chars.count else { throw Failure(message: "missing '}' in ${\(n)") }
            let value = env[n]
            switch chars[pos] {
            case "}":
                pos += 1
                return (value ?? "", false)
            case ":":
                pos += 1
                guard pos < chars.count else { throw Failure(message: "missing '}' in ${\(n):") }
                let op = chars[pos]
                pos += 1
                let wordValue = try nested()
                let empty = (value ?? "").isEmpty
                switch op {
                case "-": return (empty ? wordValue : value!, false)
                case "+": return (empty ? "" : wordValue, false)
                case "?":
                    if empty {
                        throw Failure(
                            message: "\(n): \(wordValue.isEmpty ? "is not allowed to be empty or unset" : wordValue)")
                    }
                    return (value!, false)
                default: throw Failure(message: "unsupported modifier (:\(op)) in substitution ${\(n)...}")
                }
            case "-", "+", "?":
                let op = chars[pos]
                pos += 1
                let wordValue = try nested()
                switch op {
                case "-": return (value ?? wordValue, false)
                case "+": return (value == nil ? "" : wordValue, false)
                default:
                    guard let value else {
                        throw Failure(message: "\(n): \(wordValue.isEmpty ? "is not allowed to be unset" : wordValue)")
                    }
                    return (value, false)
                }
            case "/":
                pos += 1
                var all = false
                if pos < chars.count && chars[pos] == "/" {
                    all = true
                    pos += 1
                }
                // The pattern runs to an unescaped `/`, the replacement to the closing brace.
                var pattern = ""
                while pos < chars.count && chars[pos] != "/" && chars[pos] != "}" {
                    if chars[pos] == escape && pos + 1 < chars.count {
                        pattern.append(chars[pos])
                        pattern.append(chars[pos + 1])
                        pos += 2
                        continue
                    }
                    pattern.append(chars[pos])
                    pos += 1
                }
                var replacement = ""
                if pos < chars.count && chars[pos] == "/" {
                    pos += 1
                    replacement = try nested()
                } else {
                    guard pos < chars.count else { throw Failure(message: "syntax error: missing '}'") }
                    pos += 1
                }
                return (Self.replace(value ?? "", pattern: pattern, with: replacement, all: all), false)
            case "#", "%":
                let op = chars[pos]
                pos += 1
                var greedy = false
                if pos < chars.count && chars[pos] == op {
                    greedy = true
                    pos += 1
                }
                let pattern = try nested()
                return (Self.trim(value ?? "", pattern: pattern, prefix: op == "#", greedy: greedy), false)
            default:
                throw Failure(message: "unsupported modifier (\(chars[pos])) in substitution ${\(n)...}")
            }
        }

        /// The word of a `${name<op>word}` up to the closing brace, substituted.
        mutating func nested() throws(Failure) -> String {
            var out = ""
            var depthQuote: Character? = nil
            while pos < chars.count {
                let c = chars[pos]
                if depthQuote == nil && c == "}" {
                    pos += 1
                    return out
                }
                if c == "'" && depthQuote == nil {
                    pos += 1
                    while pos < chars.count && chars[pos] != "'" {
                        out.append(chars[pos])
                        pos += 1
                    }
                    pos += 1
                    continue
                }
                if c == "\"" {
                    depthQuote = depthQuote == nil ? "\"" : nil
                    pos += 1
                    continue
                }
                if c == "$" {
                    out += try dollar().0
                    continue
                }
                if c == escape && pos + 1 < chars.count {
                    out.append(chars[pos + 1])
                    pos += 2
                    continue
                }
                out.append(c)
                pos += 1
            }
            throw Failure(message: "missing '}' in substitution")
        }

        /// `${VAR/pattern/replacement}` (first, longest match) and `${VAR//pattern/replacement}` (all).
        static func replace(_ value: String, pattern: String, with replacement: String, all: Bool) -> String {
            guard !pattern.isEmpty else { return value }
            let v = Array(value)
            let compiled = ShellPattern(pattern)
            var out = ""
            var i = 0
            var replaced = false
            while i < v.count {
                if !replaced || all, let n = compiled.prefixMatches(v[i...]).lastIndex(of: true), n > 0 {
                    out += replacement
                    i += n
                    replaced = true
                    continue
                }
                out.append(v[i])
                i += 1
            }
            return out
        }

        /// `${VAR#pattern}` and friends, with shell glob patterns (`greedy`: the longest match, else the shortest).
        static func trim(_ value: String, pattern: String, prefix: Bool, greedy: Bool) -> String {
            let v = Array(value)
            let compiled = ShellPattern(pattern)
            let matches =
                prefix ? compiled.prefixMatches(v) : compiled.reversed.prefixMatches(v.reversed())
            guard let n = greedy ? matches.lastIndex(of: true) : matches.firstIndex(of: true) else { return value }
            return prefix ? String(v[n...]) : String(v[0..<(v.count - n)])
        }
    }
}

/// Go's `filepath.Match` (used for COPY/ADD sources): `*` and `?` do not match `/` (with `slashSpecial`),
/// `[...]` classes with ranges and `^`/`!` negation, the escape `\`.
public enum DockerfileGlob {
    public static func hasMeta(_ s: String) -> Bool { s.contains { "*?[\\".contains($0) } }

    public static func match(_ pattern: String, _ name: String, slashSpecial: Bool = true) -> Bool {
        let p = Array(pattern), n = Array(name)
        var memo: [Int: Bool] = [:]
        func go(_ i: Int, _ j: Int) -> Bool {
            let key = i * (n.count + 1) + j
            if let m = memo[key] { return m }
            var result: Bool
            if i == p.count {
                result = j == n.count
            } else {
                switch p[i] {
                case "*":
                    result = go(i + 1, j) || (j < n.count && !(slashSpecial && n[j] == "/") && go(i, j + 1))
                case "?":
                    result = j < n.count && !(slashSpecial && n[j] == "/") && go(i + 1, j + 1)
                case "[":
                    if j < n.count, !(slashSpecial && n[j] == "/"), let (hit, next) = classMatch(p, i, n[j]) {
                        result = hit && go(next, j + 1)
                    } else {
                        result = false
                    }
                case "\\" where i + 1 < p.count:
                    result = j < n.count && p[i + 1] == n[j] && go(i + 2, j + 1)
                default:
                    result = j < n.count && p[i] == n[j] && go(i + 1, j + 1)
                }
            }
            memo[key] = result
            return result
        }
        return go(0, 0)
    }

    /// A `[...]` class at `start` (Go's rules: `^` negates, `\\` escapes, an unescaped `-` or `]` cannot start a
    /// range bound, at least one range before `]`): whether `c` matches and the index after `]`; nil when malformed.
    static func classMatch(_ p: [Character], _ start: Int, _ c: Character) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && p[i] == "^" {
            negate = true
            i += 1
        }
        var hit = false
        var ranges = 0
        func bound() -> Character? {
            guard i < p.count, p[i] != "-", p[i] != "]" else { return nil }
            if p[i] == "\\" {
                i += 1
                guard i < p.count else { return nil }
            }
            let ch = p[i]
            i += 1
            return i < p.count ? ch : nil
        }
        while true {
            if i < p.count && p[i] == "]" && ranges > 0 { return (hit != negate, i + 1) }
            guard let lo = bound() else { return nil }
            var hi = lo
            if p[i] == "-" {
                i += 1
                guard let h = bound() else { return nil }
                hi = h
            }
            if lo <= c && c <= hi { hit = true }
            ranges += 1
        }
    }

    /// Whether a pattern is well formed (Go returns ErrBadPattern otherwise).
    public static func valid(_ pattern: String) -> Bool {
        let p = Array(pattern)
        var i = 0
        while i < p.count {
            if p[i] == "\\" {
                i += 2
                if i > p.count { return false }
                continue
            }
            if p[i] == "[" {
                guard let (_, next) = classMatch(p, i, "a") else { return false }
                i = next
                continue
            }
            i += 1
        }
        return true
    }
}
