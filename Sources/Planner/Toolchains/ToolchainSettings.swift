/// `[toolchains.<tool>]` in ociforge.toml: `version`, `source = "debian" | "upstream"`, `mirror` (base URL of the
/// channel's mirror, passed on to the engine), `keyring` (absolute path of the OpenPGP keyring that verifies a
/// signed-only channel: swift).
public struct ToolchainSetting: Equatable, Sendable {
    public var tool: String
    public var version: String?
    public var source: Toolchain.Source?
    public var mirror: String?
    public var keyring: String?
    var file = "ociforge.toml"
    var lines: [String: Int] = [:]

    public init(tool: String) { self.tool = tool }

    var versionRequest: VersionRequest? {
        version.map { VersionRequest(value: $0, from: file, key: "toolchains.\(tool).version", line: lines["version"]) }
    }
}

public struct ToolchainSettings: Equatable, Sendable {
    public var settings: [String: ToolchainSetting] = [:]
    /// `[toolchains.mirrors]`: base URL per channel endpoint key (`node`, `deno-index`, …), handed to the engine
    /// through the plan (`ResolvedPlan.toolchainMirrors`), which checks the keys.
    public var mirrors: [String: String] = [:]
    public init() {}

    /// The tools `[toolchains.<tool>]` accepts.
    static let tools = [
        "bun", "clojure", "cobol", "crystal", "dart", "deno", "dotnet", "elixir", "erlang", "gleam", "go",
        "haskell", "java", "maven", "node", "php", "python", "ruby", "rust", "sbt", "swift", "zig"
    ]

    /// `ociforge.toml:4 toolchains.node.source`.
    func location(_ tool: String, _ key: String) -> String {
        guard let s = settings[tool] else { return "toolchains.\(tool).\(key)" }
        return s.file + (s.lines[key].map { ":\($0)" } ?? "") + " toolchains.\(tool).\(key)"
    }
}

extension ConfigReader {
    mutating func toolchainSettings(_ node: ConfigNode) throws(PlannerError) -> ToolchainSettings {
        var out = ToolchainSettings()
        for entry in try table(node, "toolchains", keys: ToolchainSettings.tools + ["mirrors"]) {
            if entry.key == "mirrors" {
                out.mirrors = try mirrorTable(entry.node, entry.path)
                continue
            }
            var setting = ToolchainSetting(tool: entry.key)
            setting.file = file
            for field in try table(entry.node, entry.path, keys: ["version", "source", "mirror", "keyring"]) {
                let value = try string(field.node, field.path)
                setting.lines[field.key] = field.node.line
                switch field.key {
                case "version":
                    guard VersionConstraint(value) != nil, !value.trimmed(" ").isEmpty else {
                        throw fail(
                            .invalidValue, "\"\(value)\" is not a version or version range", field.node, field.path)
                    }
                    setting.version = value
                case "source":
                    guard let source = Toolchain.Source(rawValue: value) else {
                        throw fail(.invalidValue, "\"\(value)\" is not one of debian, upstream", field.node, field.path)
                    }
                    setting.source = source
                case "keyring":
                    guard value.hasPrefix("/"), !value.contains("\n") else {
                        throw fail(
                            .invalidValue, "the keyring must be an absolute path to an OpenPGP keyring file",
                            field.node, field.path)
                    }
                    setting.keyring = value
                default:
                    guard value.hasPrefix("https://") || value.hasPrefix("http://"), !value.contains(" ") else {
                        throw fail(.invalidValue, "the mirror must be an http(s) URL", field.node, field.path)
                    }
                    setting.mirror = value
                }
            }
            out.settings[entry.key] = setting
        }
        return out
    }
}

extension ConfigReader {
    /// `[toolchains.mirrors] node = "https://mirror.example/node"`: every value an http(s) URL.
    mutating func mirrorTable(_ node: ConfigNode, _ path: String) throws(PlannerError) -> [String: String] {
        guard case let .table(entries) = node.value else {
            throw fail(.type, "expected a table, found \(node.value.typeName)", node, path)
        }
        var out: [String: String] = [:]
        for (key, child) in entries {
            let value = try string(child, "\(path).\(key)")
            guard value.hasPrefix("https://") || value.hasPrefix("http://"), !value.contains(" ") else {
                throw fail(.invalidValue, "the mirror must be an http(s) URL", child, "\(path).\(key)")
            }
            out[key] = value
        }
        return out
    }
}
