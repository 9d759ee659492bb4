/// TOML 1.0 allows non-ASCII characters only inside strings and comments. The vendored toml++ parser aborts the
/// process (a failed assertion in `parse_key`) on some non-ASCII bytes where a key should start, e.g.
/// `[\u{FFFD}ases.setup]` (found by fuzzing, Fixtures/fuzz-regressions/config/). So the text is checked first and
/// such a character is reported as a syntax error with its line and column, before toml++ sees it.
enum TOMLCharacterCheck {
    static func validate(_ text: String, file: String) throws(PlannerError) {
        let b = Array(text.utf8)
        var i = 0
        var line = 1
        var lineStart = 0
        func starts(_ s: String, at j: Int) -> Bool {
            let p = Array(s.utf8)
            return j + p.count <= b.count && Array(b[j..<(j + p.count)]) == p
        }
        while i < b.count {
            let c = b[i]
            if c == 0x0A { line += 1; lineStart = i + 1; i += 1; continue }
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
                        line += 1; lineStart = i + 1
                    }
                    if c == 0x22 && b[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if starts(close, at: i) { i += close.utf8.count; break }
                    i += 1
                }
                continue
            }
            if c >= 0x80 {
                let column = String(decoding: b[lineStart..<i], as: UTF8.self).count + 1
                throw PlannerError(.syntax, "invalid TOML: a non-ASCII character outside a string or comment (quote the key or value)",
                                   file: file, line: line, column: column)
            }
            i += 1
        }
    }
}
