import Foundation

/// Everything in ociforge.toml beyond the Nixpacks schema.
public struct OCIForgeSettings: Equatable, Sendable {
    public var build: BuildBlock?
    public var options: ImageOptionsBlock?
    public var docker: DockerBlock?
    public var providerConfig: [String: ProviderConfig] = [:]
    public var exclude: [String]?
    public var gitignore: Bool?
    public var secrets: [String]?
    public var toolchains = ToolchainSettings()
    /// `app = "apps/web"`: the workspace member to build and start (Workspaces/AppSelection.swift).
    public var app: String?
    public init() {}

    /// The build blocks (what a deployment file's resource can set too).
    public var blocks: BuildBlocks {
        get { BuildBlocks(build: build, options: options, docker: docker) }
        set {
            build = newValue.build
            options = newValue.options
            docker = newValue.docker
        }
    }
}

extension ConfigReader {
    static func isEnvName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f >= "A" && f <= "Z") || (f >= "a" && f <= "z") else {
            return false
        }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0 >= "A" && $0 <= "Z") || ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9")
        }
    }

    mutating func settings(_ root: ConfigNode) throws(PlannerError) -> OCIForgeSettings {
        var s = OCIForgeSettings()
        guard case let .table(entries) = root.value else { return s }
        for (key, node) in entries {
            switch key {
            case "build": s.build = try buildBlock(node, "build")
            case "options": s.options = try optionsBlock(node, "options")
            case "docker": s.docker = try dockerBlock(node, "docker")
            case "config": s.providerConfig = try providerConfigs(node, "config")
            case "toolchains": s.toolchains = try toolchainSettings(node)
            case "exclude": s.exclude = try stringArray(node, "exclude")
            case "gitignore": s.gitignore = try bool(node, "gitignore")
            case "app": s.app = try string(node, "app")
            case "secrets":
                let names = try stringArray(node, "secrets")
                for (i, n) in names.enumerated() where !Self.isEnvName(n) {
                    throw fail(
                        .invalidValue, "\"\(n)\" is not a valid secret (environment variable) name", node,
                        "secrets[\(i)]")
                }
                s.secrets = names
            default: break
            }
        }
        return s
    }
}

public enum ImageNames {
    static func nameProblem(_ name: String) -> String? {
        let ok =
            !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || "._-/:".unicodeScalars.contains($0)
            }
        return ok ? nil : "\"\(name)\" is not a valid image name (lowercase letters, digits, . _ - /)"
    }
    static func tagProblem(_ tag: String) -> String? {
        let ok =
            !tag.isEmpty && tag.count <= 128 && tag.first != "." && tag.first != "-"
            && tag.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                    || "._-".unicodeScalars.contains($0)
            }
        return ok
            ? nil : "\"\(tag)\" is not a valid tag (letters, digits, . _ -, at most 128, not starting with . or -)"
    }
    /// `registry/name:tag` → (name, tag); digests are kept in the name part.
    static func split(_ ref: String) -> (name: String, tag: String)? {
        if ref.isEmpty || ref.contains(" ") { return nil }
        if ref.contains("@") { return (ref, "") }
        let lastSlash = ref.lastIndex(of: "/")
        if let colon = ref.lastIndex(of: ":"), lastSlash == nil || colon > lastSlash! {
            let name = String(ref[..<colon]), tag = String(ref[ref.index(after: colon)...])
            if nameProblem(name) != nil || tagProblem(tag) != nil { return nil }
            return (name, tag)
        }
        return nameProblem(ref) == nil ? (ref, "latest") : nil
    }
    /// lttle's generated name: the app directory's base name, lowercased, other characters folded to `-`.
    static func generated(from directory: String) -> String {
        let base = directory.split(separator: "/").last.map(String.init) ?? "app"
        var out = ""
        for s in base.lowercased().unicodeScalars {
            if (s >= "a" && s <= "z") || (s >= "0" && s <= "9") {
                out.unicodeScalars.append(s)
            } else if !out.hasSuffix("-") && !out.isEmpty {
                out += "-"
            }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "app" : out
    }
}
