/// A byte range of a deployment file that the rewriter replaces.
public struct TextSpan: Sendable, Equatable, Hashable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// Line starts of a file's bytes, and the byte offset of a YAML mark (1-based line, column in Unicode scalars,
/// as libyaml counts them). Lines end at LF; a CR before the LF is not part of the line's content.
struct TextLines {
    let bytes: [UInt8]
    private(set) var starts: [Int] = [0]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        for (i, b) in bytes.enumerated() where b == 0x0A { starts.append(i + 1) }
    }

    var count: Int { starts.count }

    /// Byte offset just after the line's last content byte (before CR LF / LF). `line` is 1-based.
    func contentEnd(_ line: Int) -> Int {
        var end = line < starts.count ? starts[line] - 1 : bytes.count
        if line < starts.count, end > starts[line - 1], bytes[end - 1] == 0x0D { end -= 1 }
        return end
    }

    func offset(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= starts.count else { return nil }
        var i = starts[line - 1]
        var scalars = 1
        let end = contentEnd(line)
        while scalars < column && i < end {
            i += 1
            while i < end && bytes[i] & 0xC0 == 0x80 { i += 1 }
            scalars += 1
        }
        return scalars == column ? i : nil
    }

    /// Bytes of a line's content.
    func content(_ line: Int) -> ArraySlice<UInt8> { bytes[starts[line - 1]..<contentEnd(line)] }

    /// Number of leading spaces, or nil for a blank or comment-only line.
    func indentation(_ line: Int) -> Int? {
        var n = 0
        for b in content(line) {
            if b == 0x20 || b == 0x09 {
                n += 1
                continue
            }
            return b == UInt8(ascii: "#") ? nil : n
        }
        return nil
    }

    /// Where the line's content ends without a trailing ` # comment` and trailing blanks. Quotes opened at the
    /// start of a token are skipped over, so `a: "x # y"` keeps its value.
    func endWithoutComment(_ line: Int) -> Int {
        let start = starts[line - 1]
        let end = contentEnd(line)
        var quote: UInt8? = nil
        var i = start
        var cut = end
        while i < end {
            let b = bytes[i]
            if let q = quote {
                if b == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") {
                    i += 2
                    continue
                }
                if b == q { quote = nil }
                i += 1
                continue
            }
            let previous: UInt8 = i == start ? 0x20 : bytes[i - 1]
            let tokenStart = previous == 0x20 || previous == 0x09 || "[{,:".utf8.contains(previous)
            if (b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")) && tokenStart {
                quote = b
            } else if b == UInt8(ascii: "#") && (previous == 0x20 || previous == 0x09) {
                cut = i
                break
            }
            i += 1
        }
        while cut > start && (bytes[cut - 1] == 0x20 || bytes[cut - 1] == 0x09) { cut -= 1 }
        return cut
    }

    /// The span of a block mapping entry whose key starts at (`line`, `column`): the key, its value and every
    /// following line indented deeper than the key, without trailing blank or comment-only lines and without
    /// the last line's trailing comment. Nil when the key is not the first thing on its line (apart from a
    /// sequence dash), i.e. inside a flow mapping.
    func entrySpan(line: Int, column: Int) -> TextSpan? {
        guard let start = offset(line: line, column: column) else { return nil }
        for b in bytes[starts[line - 1]..<start] where b != 0x20 && b != UInt8(ascii: "-") { return nil }
        let keyIndent = column - 1
        var last = line
        var next = line + 1
        while next <= count {
            if let indent = indentation(next) {
                if indent <= keyIndent { break }
                let text = content(next)
                if keyIndent == 0 && (text.starts(with: "---".utf8) || text.starts(with: "...".utf8)) { break }
                last = next
            }
            next += 1
        }
        return TextSpan(start: start, end: endWithoutComment(last))
    }

    /// The 1-based line and column of the first anchor (`&name`) inside `span` (outside quotes and comments).
    func anchor(in span: TextSpan) -> (line: Int, column: Int)? {
        var line = 1
        while line < starts.count && starts[line] <= span.start { line += 1 }
        while line <= count && starts[line - 1] < span.end {
            let start = max(starts[line - 1], span.start)
            let end = min(endWithoutComment(line), span.end)
            var quote: UInt8? = nil
            var i = start
            while i < end {
                let b = bytes[i]
                if let q = quote {
                    if b == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") {
                        i += 2
                        continue
                    }
                    if b == q { quote = nil }
                    i += 1
                    continue
                }
                let previous: UInt8 = i == starts[line - 1] ? 0x20 : bytes[i - 1]
                let tokenStart = previous == 0x20 || previous == 0x09 || "[{,-".utf8.contains(previous)
                if (b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")) && tokenStart {
                    quote = b
                } else if b == UInt8(ascii: "&") && tokenStart && i + 1 < end && bytes[i + 1] != 0x20 {
                    let column = bytes[starts[line - 1]..<i].filter { $0 & 0xC0 != 0x80 }.count + 1
                    return (line, column)
                }
                i += 1
            }
            line += 1
        }
        return nil
    }
}
