/// The vendored toml++ parser aborts the process (a failed assertion in `parse_key`) when a table header's first
/// character is not a key character, e.g. `[\u{FFFD}ases.setup]`, `[[=]]`, `[[\u{1}]]`, `[{]`, and in `parse_value` on `a = [}` (found by fuzzing,
/// Fixtures/fuzz-regressions/config/). So the text is checked first, and these are reported as syntax errors with
/// their line and column before toml++ sees them: a non-ASCII character outside strings and comments (TOML 1.0
/// allows none), a `]` closing a `{` or a `}` closing a `[` in a value (`a = [}`), and a table header (`[` / `[[` at the start of a line, outside a value) whose first non-blank
/// character is not a bare-key character, a quote or `]`, and a date followed by a space and one digit
/// (`e = 2023-04-01 2,`, which toml++ asserts on). A `\u0000` escape in a basic string is refused too: in a key,
/// toml++ keeps the NUL but TOMLKit reads keys back as C strings, cut there, and its table iterator crashed on the
/// key it could not find (`["\u0000"]`, a fuzz finding); no plan or setting has a use for NUL.
enum TOMLCharacterCheck {
    static func validate(_ text: String, file: String) throws(PlannerError) {
        let b = Array(text.utf8)
        var i = 0
        var line = 1
        var lineStart = 0
        var open: [UInt8] = []  // brackets and braces open in a value (arrays, inline tables)
        func fail(_ why: String, at j: Int) -> PlannerError {
            let column = String(decoding: b[lineStart..<j], as: UTF8.self).count + 1
            return PlannerError(.syntax, "invalid TOML: \(why)", file: file, line: line, column: column)
        }
        func isKeyStart(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
                || c == 0x22 || c == 0x27 || c == 0x5D
        }
        func starts(_ s: String, at j: Int) -> Bool {
            let p = Array(s.utf8)
            return j + p.count <= b.count && Array(b[j..<(j + p.count)]) == p
        }
        while i < b.count {
            let c = b[i]
            if c == 0x0A {
                line += 1
                lineStart = i + 1
                i += 1
                continue
            }
            if c == UInt8(ascii: "#") {  // comment: to the end of the line
                while i < b.count && b[i] != 0x0A { i += 1 }
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let multi = starts(c == 0x22 ? "\"\"\"" : "'''", at: i)
                let close = multi ? (c == 0x22 ? "\"\"\"" : "'''") : String(UnicodeScalar(c))
                i += multi ? 3 : 1
                while i < b.count {
                    if b[i] == 0x0A {
                        if !multi { break }  // unterminated single-line string: toml++ reports it
                        line += 1
                        lineStart = i + 1
                    }
                    if c == 0x22 && b[i] == UInt8(ascii: "\\") {
                        if starts("\\u0000", at: i) || starts("\\U00000000", at: i) {
                            throw fail("a string cannot contain U+0000 (\\u0000)", at: i)
                        }
                        i += 2
                        continue
                    }
                    if starts(close, at: i) {
                        i += close.utf8.count
                        break
                    }
                    i += 1
                }
                continue
            }
            if c >= 0x80 {
                throw fail("a non-ASCII character outside a string or comment (quote the key or value)", at: i)
            }
            if c == UInt8(ascii: "["), open.isEmpty, b[lineStart..<i].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                var j = i + 1
                if j < b.count && b[j] == UInt8(ascii: "[") { j += 1 }
                while j < b.count && (b[j] == 0x20 || b[j] == 0x09) { j += 1 }
                if j < b.count, !isKeyStart(b[j]) { throw fail("a table header must start with a key", at: j) }
                i = j
                continue
            }
            if c >= 0x30, c <= 0x39, isTruncatedDateTime(b, at: i) {
                throw fail(
                    "a date followed by a space and a digit must be a date-time such as 1979-05-27 07:32:00", at: i)
            }
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                open.append(c)
            } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}"), let top = open.last {
                if (top == UInt8(ascii: "[")) != (c == UInt8(ascii: "]")) {
                    throw fail("'\(Character(UnicodeScalar(c)))' closes a '\(Character(UnicodeScalar(top)))'", at: i)
                }
                open.removeLast()
            }
            i += 1
        }
    }

    /// A value of ten characters shaped like a date (`-` fifth and eighth; underscores not counted, any other
    /// characters, as toml++ scans it), then one space, one digit and the end of the value, at `i` (toml++ asserts in
    /// `parse_value` on `e = 2023-04-01 2,` and on `e =2024-25-0R 2 `, both found by fuzzing: its look-ahead for a
    /// date-time written with a space scans on from the value's end). Never valid TOML: a space after a date starts
    /// the time `HH:MM:SS`.
    static func isTruncatedDateTime(_ b: [UInt8], at i: Int) -> Bool {
        let terminators: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0x2C, 0x5D, 0x7D, 0x23]  // space tab LF CR , ] } #
        func ends(_ j: Int) -> Bool { j >= b.count || terminators.contains(b[j]) }
        guard i == 0 || ends(i - 1) || [0x3D, 0x5B, 0x7B].contains(b[i - 1]) else { return false }  // = [ {
        var j = i
        var chars: [UInt8] = []
        while !ends(j) {
            if b[j] != UInt8(ascii: "_") { chars.append(b[j]) }
            j += 1
        }
        guard chars.count == 10, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"), j + 1 < b.count,
            b[j] == 0x20, b[j + 1] >= 0x30, b[j + 1] <= 0x39
        else { return false }
        return ends(j + 2)
    }
}
