/// A shell pattern of a `${VAR#pattern}`-style substitution (`*`, `?`, `[...]` classes, `\` escapes; `/` not
/// special), compiled to tokens and run as an automaton over the value: one pass answers whether the pattern matches
/// each prefix, in time linear in the value's length times the pattern's. Matching every prefix separately with
/// `DockerfileGlob.match` is quadratic in the value and was slow enough to stall a build on a long value (a fuzz
/// finding).
struct ShellPattern {
    enum Token {
        case literal(Character)
        case any
        case star
        /// A `[...]` class starting at `start` in `pattern` (`DockerfileGlob.classMatch`).
        case set(start: Int)
        /// A malformed class: matches nothing, as in `DockerfileGlob.match`.
        case never
    }

    let pattern: [Character]
    let tokens: [Token]

    init(_ text: String) {
        let p = Array(text)
        var tokens: [Token] = []
        var i = 0
        while i < p.count {
            switch p[i] {
            case "*":
                tokens.append(.star)
                i += 1
            case "?":
                tokens.append(.any)
                i += 1
            case "[":
                if let (_, next) = DockerfileGlob.classMatch(p, i, "a") {
                    tokens.append(.set(start: i))
                    i = next
                } else {
                    tokens.append(.never)
                    i = p.count
                }
            case "\\" where i + 1 < p.count:
                tokens.append(.literal(p[i + 1]))
                i += 2
            default:
                tokens.append(.literal(p[i]))
                i += 1
            }
        }
        self.init(pattern: p, tokens: tokens)
    }

    private init(pattern: [Character], tokens: [Token]) {
        self.pattern = pattern
        self.tokens = tokens
    }

    /// The same pattern read backwards (for suffixes: run it over the reversed value).
    var reversed: ShellPattern { ShellPattern(pattern: pattern, tokens: tokens.reversed()) }

    /// `result[n]`: whether the pattern matches the first `n` characters of `chars` (n = 0...count); stops early
    /// once no longer prefix can match.
    func prefixMatches<C: Collection<Character>>(_ chars: C) -> [Bool] {
        var result = [Bool](repeating: false, count: chars.count + 1)
        var states = [Bool](repeating: false, count: tokens.count + 1)
        close(&states, adding: 0)
        result[0] = states[tokens.count]
        var n = 0
        for c in chars {
            n += 1
            var next = [Bool](repeating: false, count: tokens.count + 1)
            var any = false
            for k in 0..<tokens.count where states[k] {
                let advance: Int?
                switch tokens[k] {
                case .literal(let l): advance = l == c ? k + 1 : nil
                case .any: advance = k + 1
                case .star: advance = k
                case .set(let start): advance = DockerfileGlob.classMatch(pattern, start, c)?.0 == true ? k + 1 : nil
                case .never: advance = nil
                }
                if let a = advance, !next[a] {
                    close(&next, adding: a)
                    any = true
                }
            }
            guard any else { break }
            states = next
            result[n] = states[tokens.count]
        }
        return result
    }

    /// Adds `k` to `states`, and every state reachable from it without reading a character (a `*` matches
    /// nothing); in place, so a step costs no copy of the state set.
    private func close(_ states: inout [Bool], adding k: Int) {
        var k = k
        while true {
            states[k] = true
            guard k < tokens.count, case .star = tokens[k], !states[k + 1] else { return }
            k += 1
        }
    }
}
