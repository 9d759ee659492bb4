import Foundation

/// Compartment's build block (`[build]` in ociforge.toml, `services.<name>.build` in a Compartment file).
public struct BuildBlock: Equatable, Sendable {
    public enum Strategy: String, Sendable { case auto, dockerfile, plan }
    public var strategy: Strategy?
    public var command: String?
    /// The only variables visible to the build (values from `variables`, else from the caller as secrets).
    public var env: [String]?
    public var packagesBuild: [String]?
    public var packagesRuntime: [String]?
    /// `base`: the build image (`debian:<suite>`), which also selects the Debian toolchain tables (ociforge's own key).
    public var base: String?
    /// `cache-to` / `cache-from`: registry repositories of the build cache (a string or an array of strings);
    /// `cache-mode`: min or max (ociforge's own keys, docs/cache.md).
    public var cacheTo: [String]?
    public var cacheFrom: [String]?
    public var cacheMode: String?
    public init(strategy: Strategy? = nil) { self.strategy = strategy }
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
    /// Relative to the context.
    public var dockerfile: String?
    public var name: String?
    public var tag: String?
    public var image: String?
    public var args: [String: String]?
    public init() {}
}

/// The build blocks of the deployers ociforge serves, in one model: read from ociforge.toml (`[build]`,
/// `[options]`, `[docker]`) and from deployment files (lttle `build:`, Compartment `services.<name>.build`)
/// through the same `ConfigReader` functions below, so both get the same defaults and validation.
public struct BuildBlocks: Equatable, Sendable {
    public var build: BuildBlock?
    public var options: ImageOptionsBlock?
    public var docker: DockerBlock?

    public init(build: BuildBlock? = nil, options: ImageOptionsBlock? = nil, docker: DockerBlock? = nil) {
        self.build = build
        self.options = options
        self.docker = docker
    }

    /// The full image reference the blocks ask for (`image` overrides name and tag).
    public var image: String? { options?.image ?? docker?.image }
    public var name: String? { options?.name ?? docker?.name }
    public var tag: String? { options?.tag ?? docker?.tag }

    /// The deployment file's blocks over an app's ociforge.toml: each block given here replaces the file's.
    public func applied(over lower: BuildBlocks) -> BuildBlocks {
        BuildBlocks(build: build ?? lower.build, options: options ?? lower.options, docker: docker ?? lower.docker)
    }
}

extension ConfigReader {
    /// A relative path that stays inside its base directory.
    static func isInsidePath(_ v: String) -> Bool {
        !v.isEmpty && !v.hasPrefix("/") && !v.split(separator: "/").contains("..")
    }

    /// `[build]` / Compartment's build block: strategy (auto, dockerfile, plan; railpack and nixpacks mean plan),
    /// command, env, packages {build, runtime}. `command` and `packages` are errors with the dockerfile strategy.
    mutating func buildBlock(_ node: ConfigNode, _ path: String) throws(PlannerError) -> BuildBlock {
        var b = BuildBlock()
        var packagesNode: ConfigNode? = nil
        var commandNode: ConfigNode? = nil
        for e in try table(
            node, path, keys: ["strategy", "command", "env", "packages", "base", "cache-to", "cache-from", "cache-mode"]
        ) {
            switch e.key {
            case "cache-to", "cache-from":
                var refs: [String] = []
                if case .array = e.node.value {
                    refs = try stringArray(e.node, e.path)
                } else {
                    refs = [try string(e.node, e.path)]
                }
                if let bad = refs.first(where: { $0.isEmpty || $0.contains(" ") || !$0.contains("/") }) {
                    throw fail(
                        .invalidValue, "\"\(bad)\" is not a registry repository such as registry.example/team/cache",
                        e.node, e.path)
                }
                if e.key == "cache-to" { b.cacheTo = refs } else { b.cacheFrom = refs }
            case "cache-mode":
                let v = try string(e.node, e.path)
                guard v == "min" || v == "max" else { throw fail(.invalidValue, "expected min or max", e.node, e.path) }
                b.cacheMode = v
            case "base":
                let v = try string(e.node, e.path)
                if v.isEmpty || v.contains(" ") {
                    throw fail(.invalidValue, "expected an image such as debian:trixie", e.node, e.path)
                }
                b.base = v
            case "strategy":
                let v = try string(e.node, e.path)
                let mapped = ["railpack": "plan", "nixpacks": "plan"][v] ?? v
                guard let st = BuildBlock.Strategy(rawValue: mapped) else {
                    throw fail(
                        .invalidValue, "\"\(v)\" is not a strategy (auto, dockerfile, railpack or plan)", e.node, e.path
                    )
                }
                b.strategy = st
            case "command":
                let c = try string(e.node, e.path)
                if c.trimmed(" \t\n").isEmpty {
                    throw fail(.invalidValue, "the build command must not be empty", e.node, e.path)
                }
                b.command = c
                commandNode = e.node
            case "env":
                let names = try stringArray(e.node, e.path)
                for (i, n) in names.enumerated() where !Self.isEnvName(n) {
                    throw fail(
                        .invalidValue, "\"\(n)\" is not a valid environment variable name", item(e.node, i),
                        "\(e.path)[\(i)]")
                }
                b.env = names
            case "packages":
                packagesNode = e.node
                for p in try table(e.node, e.path, keys: ["build", "runtime"]) {
                    let names = try stringArray(p.node, p.path)
                    try validateAptNames(names, p.node, p.path, allowingSuite: false)
                    if p.key == "build" { b.packagesBuild = names } else { b.packagesRuntime = names }
                }
                if (b.packagesBuild ?? []).isEmpty && (b.packagesRuntime ?? []).isEmpty {
                    throw fail(.invalidValue, "packages needs at least one package in build or runtime", e.node, e.path)
                }
            default: break
            }
        }
        if b.strategy == .dockerfile {
            if let commandNode {
                throw fail(
                    .invalidValue, "a custom build command is only allowed with the plan strategy, not dockerfile",
                    commandNode, "\(path).command")
            }
            if let packagesNode {
                throw fail(
                    .invalidValue,
                    "packages are not allowed with the dockerfile strategy (install packages in the Dockerfile)",
                    packagesNode, "\(path).packages")
            }
        }
        return b
    }

    /// lttle's options block: dir (relative, inside the app), name, tag, image (a full reference).
    mutating func optionsBlock(_ node: ConfigNode, _ path: String) throws(PlannerError) -> ImageOptionsBlock {
        var o = ImageOptionsBlock()
        for e in try table(node, path, keys: ["dir", "name", "tag", "image"]) {
            let v = try string(e.node, e.path)
            switch e.key {
            case "dir":
                let dir = Self.normalizedRelative(v)
                if dir != "." && !Self.isInsidePath(dir) {
                    throw fail(.invalidValue, "dir must be a relative path inside the app directory", e.node, e.path)
                }
                o.dir = dir
            case "name": o.name = try imageName(v, e.node, e.path)
            case "tag": o.tag = try imageTag(v, e.node, e.path)
            case "image": o.image = try imageReference(v, e.node, e.path)
            default: break
            }
        }
        return o
    }

    /// lttle's docker block: context, dockerfile (relative to the context), name, tag, image, args.
    mutating func dockerBlock(_ node: ConfigNode, _ path: String) throws(PlannerError) -> DockerBlock {
        var d = DockerBlock()
        for e in try table(node, path, keys: ["context", "dockerfile", "name", "tag", "image", "args"]) {
            switch e.key {
            case "context", "dockerfile":
                let v = Self.normalizedRelative(try string(e.node, e.path))
                if (e.key == "dockerfile" || v != ".") && !Self.isInsidePath(v) {
                    throw fail(.invalidValue, "must be a relative path inside the app directory", e.node, e.path)
                }
                if e.key == "context" { d.context = v } else { d.dockerfile = v }
            case "name": d.name = try imageName(try string(e.node, e.path), e.node, e.path)
            case "tag": d.tag = try imageTag(try string(e.node, e.path), e.node, e.path)
            case "image": d.image = try imageReference(try string(e.node, e.path), e.node, e.path)
            case "args":
                let args = try stringMap(e.node, e.path)
                for key in args.keys.sorted() where !Self.isEnvName(key) {
                    throw fail(
                        .invalidValue, "\"\(key)\" is not a valid build argument name", e.node, "\(e.path).\(key)")
                }
                d.args = args
            default: break
            }
        }
        return d
    }

    func imageName(_ v: String, _ node: ConfigNode, _ path: String) throws(PlannerError) -> String {
        if let problem = ImageNames.nameProblem(v) { throw fail(.invalidValue, problem, node, path) }
        return v
    }

    func imageTag(_ v: String, _ node: ConfigNode, _ path: String) throws(PlannerError) -> String {
        if let problem = ImageNames.tagProblem(v) { throw fail(.invalidValue, problem, node, path) }
        return v
    }

    func imageReference(_ v: String, _ node: ConfigNode, _ path: String) throws(PlannerError) -> String {
        if ImageNames.split(v) == nil || v.contains("@") {
            throw fail(.invalidValue, "\"\(v)\" is not an image reference ([host/]name[:tag], no digest)", node, path)
        }
        return v
    }

    /// `./backend/` → `backend`, `./` → `.`.
    static func normalizedRelative(_ v: String) -> String {
        let parts = v.split(separator: "/").filter { $0 != "." }
        if v.hasPrefix("/") { return v }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The node of an array's `i`th element (for its line), else the array's.
    func item(_ node: ConfigNode, _ i: Int) -> ConfigNode {
        if case let .array(items) = node.value, i < items.count { return items[i] }
        return node
    }
}
