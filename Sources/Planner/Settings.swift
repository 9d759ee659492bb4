import Foundation

/// Compartment's `[build]` block.
public struct BuildBlock: Equatable, Sendable {
    public enum Strategy: String, Sendable { case auto, dockerfile, plan }
    public var strategy: Strategy?
    public var command: String?
    public var env: [String]?
    public var packagesBuild: [String]?
    public var packagesRuntime: [String]?
    /// `base`: the build image (`debian:<suite>`), which also selects the Debian toolchain tables.
    public var base: String?
    public init() {}
}

/// lttle's `options` block.
public struct ImageOptionsBlock: Equatable, Sendable {
    public var dir: String?
    public var name: String?
    public var tag: String?
    public var image: String?
    public init() {}
}

/// lttle's `docker` block.
public struct DockerBlock: Equatable, Sendable {
    public var context: String?
    public var dockerfile: String?
    public var args: [String: String]?
    public init() {}
}

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
}

extension ConfigReader {
    static func isEnvName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f >= "A" && f <= "Z") || (f >= "a" && f <= "z") else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0 >= "A" && $0 <= "Z") || ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") }
    }

    mutating func settings(_ root: ConfigNode) throws(PlannerError) -> OCIForgeSettings {
        var s = OCIForgeSettings()
        guard case let .table(entries) = root.value else { return s }
        for (key, node) in entries {
            switch key {
            case "build":
                var b = BuildBlock()
                var packagesNode: ConfigNode? = nil
                var commandNode: ConfigNode? = nil
                for e in try table(node, "build", keys: ["strategy", "command", "env", "packages", "base"]) {
                    switch e.key {
                    case "strategy":
                        let v = try string(e.node, e.path)
                        let mapped = ["railpack": "plan", "nixpacks": "plan"][v] ?? v
                        guard let st = BuildBlock.Strategy(rawValue: mapped) else {
                            throw fail(.invalidValue, "\"\(v)\" is not a strategy (auto, dockerfile, plan)", e.node, e.path)
                        }
                        b.strategy = st
                    case "base":
                        let v = try string(e.node, e.path)
                        if v.isEmpty || v.contains(" ") { throw fail(.invalidValue, "expected an image such as debian:trixie", e.node, e.path) }
                        b.base = v
                    case "command":
                        let c = try string(e.node, e.path)
                        if c.trimmed(" \t\n").isEmpty { throw fail(.invalidValue, "the build command must not be empty", e.node, e.path) }
                        b.command = c
                        commandNode = e.node
                    case "env":
                        let names = try stringArray(e.node, e.path)
                        for (i, n) in names.enumerated() where !Self.isEnvName(n) {
                            throw fail(.invalidValue, "\"\(n)\" is not a valid environment variable name", e.node, "\(e.path)[\(i)]")
                        }
                        b.env = names
                    case "packages":
                        packagesNode = e.node
                        for p in try table(e.node, e.path, keys: ["build", "runtime"]) {
                            let names = try stringArray(p.node, p.path)
                            try validateAptNames(names, p.node, p.path)
                            if p.key == "build" { b.packagesBuild = names } else { b.packagesRuntime = names }
                        }
                        if (b.packagesBuild ?? []).isEmpty && (b.packagesRuntime ?? []).isEmpty {
                            throw fail(.invalidValue, "[build.packages] needs at least one package in build or runtime", e.node, e.path)
                        }
                    default: break
                    }
                }
                if b.strategy == .dockerfile {
                    if let commandNode {
                        throw fail(.invalidValue, "a custom build command is only allowed with the plan strategy, not dockerfile", commandNode, "build.command")
                    }
                    if let packagesNode {
                        throw fail(.invalidValue, "[build.packages] is not allowed with the dockerfile strategy (install packages in the Dockerfile)", packagesNode, "build.packages")
                    }
                }
                s.build = b
            case "options":
                var o = ImageOptionsBlock()
                for e in try table(node, "options", keys: ["dir", "name", "tag", "image"]) {
                    let v = try string(e.node, e.path)
                    switch e.key {
                    case "dir":
                        if v.hasPrefix("/") || v.split(separator: "/").contains("..") {
                            throw fail(.invalidValue, "dir must be a relative path inside the app directory", e.node, e.path)
                        }
                        o.dir = v
                    case "name":
                        if let problem = ImageNames.nameProblem(v) { throw fail(.invalidValue, problem, e.node, e.path) }
                        o.name = v
                    case "tag":
                        if let problem = ImageNames.tagProblem(v) { throw fail(.invalidValue, problem, e.node, e.path) }
                        o.tag = v
                    case "image":
                        if ImageNames.split(v) == nil { throw fail(.invalidValue, "\"\(v)\" is not an image reference (name[:tag])", e.node, e.path) }
                        o.image = v
                    default: break
                    }
                }
                s.options = o
            case "docker":
                var d = DockerBlock()
                for e in try table(node, "docker", keys: ["context", "dockerfile", "args"]) {
                    switch e.key {
                    case "context": d.context = try string(e.node, e.path)
                    case "dockerfile": d.dockerfile = try string(e.node, e.path)
                    case "args": d.args = try stringMap(e.node, e.path)
                    default: break
                    }
                }
                for (k, v) in [("docker.context", d.context), ("docker.dockerfile", d.dockerfile)] {
                    if let v, v.hasPrefix("/") || v.split(separator: "/").contains("..") {
                        throw fail(.invalidValue, "must be a relative path inside the app directory", node, k)
                    }
                }
                s.docker = d
            case "config": s.providerConfig = try providerConfigs(node, "config")
            case "toolchains": s.toolchains = try toolchainSettings(node)
            case "exclude": s.exclude = try stringArray(node, "exclude")
            case "gitignore": s.gitignore = try bool(node, "gitignore")
            case "app": s.app = try string(node, "app")
            case "secrets":
                let names = try stringArray(node, "secrets")
                for (i, n) in names.enumerated() where !Self.isEnvName(n) {
                    throw fail(.invalidValue, "\"\(n)\" is not a valid secret (environment variable) name", node, "secrets[\(i)]")
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
        let ok = !name.isEmpty && name.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || "._-/:".unicodeScalars.contains($0) }
        return ok ? nil : "\"\(name)\" is not a valid image name (lowercase letters, digits, . _ - /)"
    }
    static func tagProblem(_ tag: String) -> String? {
        let ok = !tag.isEmpty && tag.count <= 128 && tag.first != "." && tag.first != "-"
            && tag.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "._-".unicodeScalars.contains($0) }
        return ok ? nil : "\"\(tag)\" is not a valid tag (letters, digits, . _ -, at most 128, not starting with . or -)"
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
            if (s >= "a" && s <= "z") || (s >= "0" && s <= "9") { out.unicodeScalars.append(s) }
            else if !out.hasSuffix("-") && !out.isEmpty { out += "-" }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "app" : out
    }
}
