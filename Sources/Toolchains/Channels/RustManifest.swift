/// The subset of TOML that Rust's `channel-rust-*.toml` manifests (manifest-version 2) use for packages:
/// `[table.headers]` followed by `key = "string"` / `key = true` lines. Array tables (`[[…]]`) and arrays are
/// skipped; anything else that does not parse fails naming the line.
struct RustManifest {
    /// `table header → key → string value` (booleans as "true"/"false").
    var tables: [String: [String: String]] = [:]

    init(_ text: String, url: String) throws(ToolchainError) {
        var table = ""
        var skipping = false
        var arrayDepth = 0
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if arrayDepth > 0 {
                arrayDepth += Self.bracketBalance(line)
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[[") {
                skipping = true
                continue
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw Self.bad(i, url) }
                table = Self.unquoteHeader(String(line.dropFirst().dropLast()))
                skipping = false
                continue
            }
            if skipping { continue }
            guard let eq = line.firstIndex(of: "=") else { throw Self.bad(i, url) }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: "")
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("[") {
                arrayDepth = Self.bracketBalance(value)
                continue
            }
            if value == "true" || value == "false" {
                tables[table, default: [:]][key] = value
            } else if let s = Self.basicString(value) {
                tables[table, default: [:]][key] = s
            } else if value.allSatisfy({ $0.isNumber }) {
                tables[table, default: [:]][key] = value
            } else {
                throw Self.bad(i, url)
            }
        }
    }

    private static func bad(_ index: Int, _ url: String) -> ToolchainError {
        ToolchainError(
            .invalidIndex, "manifest line \(index + 1) is not a TOML key/value or table header", url: url,
            endpoint: .rust)
    }

    private static func bracketBalance(_ s: String) -> Int {
        var n = 0
        var inString = false
        var escaped = false
        for c in s {
            if inString {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inString = false
                }
                continue
            }
            if c == "\"" { inString = true } else if c == "[" { n += 1 } else if c == "]" { n -= 1 }
        }
        return n
    }

    /// `pkg."rust-std".target.x` → `pkg.rust-std.target.x`.
    private static func unquoteHeader(_ s: String) -> String {
        s.replacingOccurrences(of: "\"", with: "").trimmingCharacters(in: .whitespaces)
    }

    /// A TOML basic string `"…"` (escapes `\"`, `\\`, `\n`, `\t`); nil otherwise.
    private static func basicString(_ v: String) -> String? {
        guard v.hasPrefix("\""), v.count >= 2 else { return nil }
        var out = ""
        var escaped = false
        var closed = false
        for c in v.dropFirst() {
            if closed { return c == " " || c == "#" ? out : nil }
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                closed = true
            } else {
                out.append(c)
            }
        }
        return closed ? out : nil
    }
}
