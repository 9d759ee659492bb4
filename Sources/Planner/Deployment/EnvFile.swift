import Foundation

/// `--env-file`: `KEY=VALUE` lines; blank lines and `#` comments are skipped, an `export ` prefix is allowed,
/// and a value wholly in matching single or double quotes loses them (no escapes, no expansion).
public enum EnvFile {
    public static func parse(_ text: String, file: String) throws(PlannerError) -> [String: String] {
        var out: [String: String] = [:]
        var lineNumber = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = String(raw)
            if line.trimmed(" \t").isEmpty || line.trimmed(" \t").hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)) }
            guard let eq = line.firstIndex(of: "="), ConfigReader.isEnvName(String(line[..<eq])) else {
                throw PlannerError(.syntax, "expected KEY=VALUE", file: file, line: lineNumber)
            }
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = String(value.dropFirst().dropLast())
            }
            out[String(line[..<eq])] = value
        }
        return out
    }
}
