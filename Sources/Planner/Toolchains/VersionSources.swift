import Foundation

/// One version request with where it came from (a file and line, or a setting).
struct VersionRequest: Sendable, Equatable {
    var value: String
    /// A file relative to the app directory, or a setting name (`OCIFORGE_NODE_VERSION`).
    var from: String
    var key: String? = nil
    var line: Int? = nil

    var record: ToolchainRequest { ToolchainRequest(constraint: value, from: from, line: line, key: key) }
}

/// Version files read the way mise reads them: `mise.toml` / `.mise.toml` / `mise/config.toml` /
/// `.mise/config.toml` / `.config/mise.toml` / `.config/mise/config.toml` `[tools]`, then `.tool-versions`
/// (the first file naming the tool wins), and the idiomatic files (`.nvmrc`, `.python-version`, ...).
struct VersionFiles {
    let app: AppDirectory

    static let miseConfigs = [
        "mise.toml", ".mise.toml", "mise/config.toml", ".mise/config.toml", ".config/mise.toml",
        ".config/mise/config.toml"
    ]

    /// mise / asdf names of each tool.
    static let aliases: [String: [String]] = [
        "node": ["node", "nodejs", "core:node"], "python": ["python", "core:python"], "go": ["go", "golang", "core:go"],
        "ruby": ["ruby", "core:ruby"], "rust": ["rust", "core:rust"], "java": ["java", "core:java"],
        "dotnet": ["dotnet", "dotnet-core", "core:dotnet"], "bun": ["bun", "core:bun"], "deno": ["deno", "core:deno"],
        "zig": ["zig", "core:zig"], "php": ["php"], "elixir": ["elixir", "core:elixir"],
        "erlang": ["erlang", "core:erlang"],
        "gleam": ["gleam"], "dart": ["dart"], "swift": ["swift", "core:swift"], "sbt": ["sbt"], "crystal": ["crystal"],
        "haskell": ["ghc", "haskell"], "clojure": ["clojure"], "pnpm": ["pnpm"], "yarn": ["yarn"], "poetry": ["poetry"],
        "uv": ["uv"], "pdm": ["pdm"], "pipenv": ["pipenv"], "bundler": ["bundler"]
    ]

    /// `[tools]` of the first mise config naming the tool, then `.tool-versions`.
    func mise(_ tool: String) throws(PlannerError) -> VersionRequest? {
        let names = Self.aliases[tool] ?? [tool]
        for file in Self.miseConfigs where app.has(file) {
            guard let tools = try app.toml(file)?["tools"] else { continue }
            for name in names {
                guard let node = tools[name] else { continue }
                let value: String?
                switch node.value {
                case .string: value = node.stringValue
                case .array:
                    value = node.arrayValue?.first?.stringValue ?? node.arrayValue?.first?["version"]?.stringValue
                case .table: value = node["version"]?.stringValue
                default: value = nil
                }
                guard let value, !value.isEmpty else {
                    throw PlannerError(
                        .type, "expected a version string (or [\"v\", ...] / { version = \"v\" })",
                        file: file, line: node.line, key: "tools.\(name)")
                }
                return VersionRequest(
                    value: Self.normalize(tool, value), from: file, key: "tools.\(name)", line: node.line)
            }
        }
        return toolVersions(names).map {
            VersionRequest(value: Self.normalize(tool, $0.value), from: ".tool-versions", key: $0.name, line: $0.line)
        }
    }

    /// `.tool-versions`: `tool version [fallback...]`; the first version counts.
    func toolVersions(_ names: [String]) -> (value: String, name: String, line: Int)? {
        guard let text = app.read(".tool-versions") else { return nil }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if parts.count >= 2, names.contains(String(parts[0])) {
                return (String(parts[1]), String(parts[0]), index + 1)
            }
        }
        return nil
    }

    /// A version file's first meaningful line (`.nvmrc`, `.python-version`, `.ruby-version`, ...).
    func file(_ path: String, transform: (String) -> String = { $0 }) -> VersionRequest? {
        guard let text = app.read(path) else { return nil }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmed(
                " \t\r")
            if !t.isEmpty { return VersionRequest(value: transform(t), from: path, line: index + 1) }
        }
        return nil
    }

    /// A string value of a JSON/TOML document at `path` (`engines.node`).
    static func value(_ doc: ConfigNode?, _ path: [String], file: String, transform: (String) -> String = { $0 })
        -> VersionRequest?
    {
        var node = doc
        for key in path { node = node?[key] }
        guard let node, let s = node.stringValue, !s.trimmed(" ").isEmpty else { return nil }
        return VersionRequest(value: transform(s), from: file, key: path.joined(separator: "."), line: node.line)
    }

    /// mise values with a vendor or flavour: `temurin-21.0.2` → 21.0.2, `1.18.3-otp-27` → 1.18.3, `ruby-3.3.0` → 3.3.0.
    static func normalize(_ tool: String, _ value: String) -> String {
        var v = value.trimmed(" \t\r")
        if v.hasPrefix("prefix:") { v = String(v.dropFirst(7)) }
        switch tool {
        case "java":
            if let dash = v.lastIndex(of: "-"), v[v.index(after: dash)...].first?.isNumber == true,
                v.first?.isLetter == true
            {
                v = String(v[v.index(after: dash)...])
            }
        case "elixir": if let r = v.range(of: "-otp-") { v = String(v[..<r.lowerBound]) }
        case "ruby": if v.hasPrefix("ruby-") { v = String(v.dropFirst(5)) }
        case "python": if v.hasPrefix("python-") { v = String(v.dropFirst(7)) }
        default: break
        }
        return v
    }
}
