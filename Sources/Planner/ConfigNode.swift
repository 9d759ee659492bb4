import Foundation
import TOMLKit

/// A parsed configuration document (TOML, JSON or YAML) as a tree whose nodes remember their source line, so
/// that validation errors can name the file, line and key path.
public indirect enum ConfigValue: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([ConfigNode])
    case table([(key: String, node: ConfigNode)])

    public static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.table(a), .table(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.node == $1.node }
        default: return false
        }
    }

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

public struct ConfigNode: Equatable, Sendable {
    public var value: ConfigValue
    public var line: Int?
    /// 1-based column, where the format reports it (YAML).
    public var column: Int?
    public init(_ value: ConfigValue, line: Int? = nil, column: Int? = nil) {
        self.value = value
        self.line = line
        self.column = column
    }
}

/// Where a document came from, for error messages.
public struct ConfigSource: Sendable, Equatable {
    public var file: String
    public init(file: String) { self.file = file }
}

enum ConfigFormat: Sendable { case toml, json }

enum ConfigParser {
    static func parse(_ text: String, format: ConfigFormat, file: String) throws(PlannerError) -> ConfigNode {
        switch format {
        case .json:
            var parser = JSONPositionParser(text: text, file: file)
            return try parser.parseDocument()
        case .toml:
            return try parseTOML(text, file: file)
        }
    }

    // MARK: TOML

    static func parseTOML(_ text: String, file: String) throws(PlannerError) -> ConfigNode {
        try TOMLCharacterCheck.validate(text, file: file)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PlannerError(
                .syntax, "invalid TOML: \(error.description)", file: file,
                line: error.source.begin.line, column: error.source.begin.column)
        } catch {
            throw PlannerError(.syntax, "invalid TOML", file: file, cause: error)
        }
        let lines = TOMLLineLocator(text: text)
        return convert(table.tomlValue, path: [], lines: lines)
    }

    private static func convert(_ value: TOMLValue, path: [String], lines: TOMLLineLocator) -> ConfigNode {
        let line = lines.line(for: path)
        switch value.type {
        case .table:
            var entries: [(key: String, node: ConfigNode)] = []
            if let table = value.table {
                // TOMLKit iterates in key order; keep document order for messages by sorting on line.
                for (key, child) in table {
                    entries.append((key, convert(child.tomlValue, path: path + [key], lines: lines)))
                }
            }
            entries.sort { ($0.node.line ?? Int.max, $0.key) < ($1.node.line ?? Int.max, $1.key) }
            return ConfigNode(.table(entries), line: line)
        case .array:
            var items: [ConfigNode] = []
            if let array = value.array {
                for (index, element) in array.enumerated() {
                    var node = convert(element.tomlValue, path: path + ["\(index)"], lines: lines)
                    node.line = node.line ?? line
                    items.append(node)
                }
            }
            return ConfigNode(.array(items), line: line)
        case .string: return ConfigNode(.string(value.string ?? ""), line: line)
        case .int: return ConfigNode(.int(value.int ?? 0), line: line)
        case .double: return ConfigNode(.double(value.double ?? 0), line: line)
        case .bool: return ConfigNode(.bool(value.bool ?? false), line: line)
        default:
            // Dates and times have no meaning in a build plan: keep their text so type checks report them.
            return ConfigNode(.string(value.debugDescription), line: line)
        }
    }
}

/// TOMLKit reports positions only for syntax errors; this finds the line where each key path is defined by
/// following table headers and `key =` assignments (dotted and quoted keys included).
struct TOMLLineLocator {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var header: [String] = []
        var arrayCounts: [String: Int] = [:]
        var lineNumber = 0
        var inMultiline: String? = nil
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmed(" \t\r")
            if let delimiter = inMultiline {
                if line.contains(delimiter) { inMultiline = nil }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[["), let end = line.range(of: "]]") {
                let keys = Self.splitKey(String(line[line.index(line.startIndex, offsetBy: 2)..<end.lowerBound]))
                let joined = keys.joined(separator: ".")
                let index = arrayCounts[joined, default: 0]
                arrayCounts[joined] = index + 1
                header = keys + ["\(index)"]
                record(keys, lineNumber)
                record(header, lineNumber)
                continue
            }
            if line.hasPrefix("["), let end = line.firstIndex(of: "]") {
                header = Self.splitKey(String(line[line.index(after: line.startIndex)..<end]))
                record(header, lineNumber)
                continue
            }
            guard let eq = Self.assignmentIndex(line) else { continue }
            let keys = Self.splitKey(String(line[..<eq]))
            record(header + keys, lineNumber)
            let rest = line[line.index(after: eq)...].trimmed(" \t")
            for delimiter in ["\"\"\"", "'''"] where rest.hasPrefix(delimiter) {
                if !rest.dropFirst(3).contains(delimiter) { inMultiline = delimiter }
            }
            if rest.hasPrefix("{") { recordInline(rest, base: header + keys, lineNumber) }
        }
    }

    private mutating func record(_ path: [String], _ line: Int) {
        let key = path.joined(separator: "\u{1}")
        if lines[key] == nil { lines[key] = line }
    }

    private mutating func recordInline(_ text: String, base: [String], _ line: Int) {
        // `{ a = 1, b = [..] }` on one line: every key inside gets this line.
        var depth = 0
        var current = ""
        var inString: Character? = nil
        for ch in text {
            if let q = inString {
                if ch == q { inString = nil }
                if depth == 1 { current.append(ch) }
                continue
            }
            switch ch {
            case "\"", "'":
                inString = ch
                if depth == 1 { current.append(ch) }
            case "{", "[":
                depth += 1
                if depth > 1 && depth == 2 { current.append(ch) }
            case "}", "]": depth -= 1
            case ",":
                if depth == 1 {
                    recordAssignment(current, base: base, line)
                    current = ""
                }
            default: if depth == 1 { current.append(ch) }
            }
        }
        recordAssignment(current, base: base, line)
    }

    private mutating func recordAssignment(_ text: String, base: [String], _ line: Int) {
        let trimmed = text.trimmed(" \t")
        guard let eq = Self.assignmentIndex(trimmed) else { return }
        record(base + Self.splitKey(String(trimmed[..<eq])), line)
    }

    /// The line of the deepest known ancestor of `path`.
    func line(for path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path.joined(separator: "\u{1}")] { return line }
            path.removeLast()
        }
        return nil
    }

    static func assignmentIndex(_ line: String) -> String.Index? {
        var inString: Character? = nil
        for index in line.indices {
            let ch = line[index]
            if let q = inString {
                if ch == q { inString = nil }
                continue
            }
            if ch == "\"" || ch == "'" {
                inString = ch
                continue
            }
            if ch == "=" { return index }
            if ch == "#" { return nil }
        }
        return nil
    }

    static func splitKey(_ text: String) -> [String] {
        var keys: [String] = []
        var current = ""
        var inString: Character? = nil
        for ch in text {
            if let q = inString {
                if ch == q { inString = nil } else { current.append(ch) }
                continue
            }
            switch ch {
            case "\"", "'": inString = ch
            case ".":
                keys.append(current.trimmed(" \t"))
                current = ""
            default: current.append(ch)
            }
        }
        keys.append(current.trimmed(" \t"))
        return keys
    }
}

extension StringProtocol {
    func trimmed(_ set: String) -> String {
        var start = startIndex
        var end = endIndex
        while start < end, set.contains(self[start]) { start = index(after: start) }
        while end > start, set.contains(self[index(before: end)]) { end = index(before: end) }
        return String(self[start..<end])
    }
}

/// A small JSON parser that keeps line numbers (Foundation's JSONSerialization gives only a character offset,
/// JSONDecoder none). Strict RFC 8259: no comments, no trailing commas.
struct JSONPositionParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private let file: String

    init(text: String, file: String) {
        self.bytes = Array(text.utf8)
        self.file = file
    }

    mutating func parseDocument() throws(PlannerError) -> ConfigNode {
        skipWhitespace()
        let node = try parseValue(depth: 0)
        skipWhitespace()
        if index < bytes.count { throw error("unexpected content after the JSON value") }
        return node
    }

    private func error(_ message: String) -> PlannerError {
        PlannerError(.syntax, "invalid JSON: \(message)", file: file, line: line, column: index - lineStart + 1)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(PlannerError) -> ConfigNode {
        guard depth < 200 else { throw error("nesting deeper than 200 levels") }
        guard index < bytes.count else { throw error("unexpected end of input") }
        let startLine = line
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var entries: [(key: String, node: ConfigNode)] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return ConfigNode(.table(entries), line: startLine)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw error("expected a string key")
                }
                let keyLine = line
                let key = try parseString()
                if entries.contains(where: { $0.key == key }) { throw error("duplicate key \"\(key)\"") }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw error("expected ':' after key \"\(key)\"")
                }
                index += 1
                skipWhitespace()
                var value = try parseValue(depth: depth + 1)
                if case .table = value.value {} else if case .array = value.value {} else { value.line = keyLine }
                if case .table = value.value { value.line = keyLine }
                if case .array = value.value { value.line = keyLine }
                entries.append((key, value))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input inside an object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return ConfigNode(.table(entries), line: startLine)
                }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [ConfigNode] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return ConfigNode(.array(items), line: startLine)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input inside an array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return ConfigNode(.array(items), line: startLine)
                }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return ConfigNode(.string(try parseString()), line: startLine)
        case UInt8(ascii: "t"):
            try literal("true")
            return ConfigNode(.bool(true), line: startLine)
        case UInt8(ascii: "f"):
            try literal("false")
            return ConfigNode(.bool(false), line: startLine)
        case UInt8(ascii: "n"):
            try literal("null")
            throw PlannerError(.type, "null is not allowed here; remove the key instead", file: file, line: startLine)
        default:
            return try parseNumber()
        }
    }

    private mutating func literal(_ word: String) throws(PlannerError) {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else {
            throw error("unexpected character")
        }
        index += w.count
    }

    private mutating func parseNumber() throws(PlannerError) -> ConfigNode {
        let start = index
        let startLine = line
        while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text.isEmpty { throw error("unexpected character") }
        if let int = Int(text) { return ConfigNode(.int(int), line: startLine) }
        if let double = Double(text) { return ConfigNode(.double(double), line: startLine) }
        index = start
        throw error("invalid number \(text)")
    }

    private mutating func parseString() throws(PlannerError) -> String {
        index += 1  // opening quote
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw error("control character in string") }
            if b == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { break }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else {
                            throw error("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid unicode escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape")
                }
                continue
            }
            out.append(b)
            index += 1
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(PlannerError) -> UInt32 {
        guard index + 4 <= bytes.count,
            let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else {
            throw error("invalid unicode escape")
        }
        index += 4
        return v
    }
}
