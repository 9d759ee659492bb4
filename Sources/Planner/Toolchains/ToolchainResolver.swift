/// The upstream release channels the engine can install from, per tool, with what the runtime stage needs and
/// the request used when nothing asks for a version.
struct UpstreamChannel: Sendable {
    var channel: String
    var runtime: UpstreamRequirement.RuntimePart
    var defaultConstraint: String
    /// Debian packages the build stage needs next to the upstream toolchain (compilers for native extensions).
    var buildPackages: [String] = []

    static let all: [String: UpstreamChannel] = [
        "node": .init(channel: "node", runtime: .full, defaultConstraint: "lts"),
        "bun": .init(channel: "bun", runtime: .full, defaultConstraint: "latest"),
        "deno": .init(channel: "deno", runtime: .full, defaultConstraint: "latest"),
        "go": .init(channel: "go", runtime: .none, defaultConstraint: "latest"),
        "python": .init(channel: "python-build-standalone", runtime: .full, defaultConstraint: "3.13"),
        "ruby": .init(
            channel: "ruby", runtime: .full, defaultConstraint: "latest",
            buildPackages: ["build-essential", "libyaml-dev", "libffi-dev", "libssl-dev", "zlib1g-dev"]),
        "rust": .init(channel: "rust", runtime: .none, defaultConstraint: "stable"),
        "java": .init(channel: "temurin", runtime: .runtimeOnly, defaultConstraint: "21"),
        "dotnet": .init(channel: "dotnet", runtime: .runtimeOnly, defaultConstraint: "lts"),
        "zig": .init(channel: "zig", runtime: .none, defaultConstraint: "latest"),
        "gleam": .init(channel: "gleam", runtime: .none, defaultConstraint: "latest"),
        "dart": .init(channel: "dart", runtime: .none, defaultConstraint: "latest"),
        "swift": .init(
            channel: "swift", runtime: .none, defaultConstraint: "latest",
            buildPackages: [
                "binutils", "gcc", "g++", "libc6-dev", "libcurl4-openssl-dev", "libedit-dev", "libncurses-dev",
                "libpython3-dev", "libsqlite3-dev", "libxml2-dev", "pkg-config", "tzdata", "uuid-dev", "zlib1g-dev",
                "git"
            ]),
        "sbt": .init(channel: "sbt", runtime: .none, defaultConstraint: "latest")
    ]
}

/// Node's LTS codenames by major version (for `lts/iron` against Debian's node).
enum NodeLTS {
    static let codenames: [Int: String] = [
        4: "argon", 6: "boron", 8: "carbon", 10: "dubnium", 12: "erbium", 14: "fermium",
        16: "gallium", 18: "hydrogen", 20: "iron", 22: "jod", 24: "krypton"
    ]
    static func codename(_ version: String) -> String? { SemanticVersion(version).flatMap { codenames[$0.major] } }
}

/// Chooses the source of one toolchain: the suite's Debian package when it satisfies the request (main first,
/// then alternatives and backports in table order), else the upstream channel; `source` settings force either.
struct ToolchainResolver {
    let suite: DebianSuite
    /// `OCIFORGE_TOOLCHAIN_<TOOL>_SOURCE` / `[toolchains.<tool>] source`, with where it was set.
    let sourceOverride: (value: Toolchain.Source, from: String)?
    let mirror: String?
    var keyring: String? = nil

    func resolve(_ tool: String, request: VersionRequest?) throws(PlannerError) -> Toolchain {
        var constraint: VersionConstraint? = nil
        if let request {
            guard let c = VersionConstraint(request.value) else {
                throw PlannerError(
                    .invalidValue, "\"\(request.value)\" is not a version or version range for \(tool)",
                    file: Self.isSetting(request.from) ? nil : request.from, line: request.line,
                    key: Self.isSetting(request.from) ? request.from : request.key)
            }
            constraint = c
        }
        let options = suite.toolchains[tool] ?? []
        if sourceOverride?.value != .upstream {
            if let chosen = debianChoice(options, constraint) { return debianToolchain(chosen, request: request) }
            if sourceOverride?.value == .debian { throw debianOnlyError(tool, request: request, options: options) }
        }
        guard let channel = UpstreamChannel.all[tool] else {
            throw noSourceError(tool, request: request, options: options)
        }
        let text = request?.value ?? channel.defaultConstraint
        let exact = constraint?.exactVersion?.description
        return Toolchain(
            name: tool, source: .upstream, request: request?.record, version: exact, packages: channel.buildPackages,
            upstream: UpstreamRequirement(
                channel: channel.channel, constraint: text, mirror: mirror,
                runtime: channel.runtime, keyring: keyring))
    }

    /// The Debian package set to use, or nil when the request needs upstream. Without a request: the suite's
    /// default. A moving request (`latest`, `lts/*`, `stable`) is Debian's only when `source = "debian"`.
    func debianChoice(_ options: [DebianToolchain], _ constraint: VersionConstraint?) -> DebianToolchain? {
        guard let constraint else { return options.first }
        if constraint.isMoving && sourceOverride?.value != .debian { return nil }
        let candidates = options.map {
            VersionCandidate($0.version, lts: $0.name == "node" ? NodeLTS.codename($0.version) : nil)
        }
        if constraint.isMoving || constraint.alias != nil {
            guard let best = constraint.newestMatch(in: candidates) else { return nil }
            return options.first { $0.version == best.version }
        }
        return options.first { constraint.matches($0.version) }
    }

    func debianToolchain(_ chosen: DebianToolchain, request: VersionRequest?) -> Toolchain {
        let packages = chosen.buildPackages.map {
            chosen.suite != suite.name && chosen.pins[$0] != nil ? "\($0)/\(chosen.suite)" : $0
        }
        return Toolchain(
            name: chosen.name, source: .debian, request: request?.record, version: chosen.version, packages: packages,
            debian: DebianToolchainSource(
                suite: chosen.suite, runtimePackages: chosen.runtimePackages,
                paths: chosen.paths))
    }

    // MARK: errors

    static func isSetting(_ from: String) -> Bool {
        from.hasPrefix("OCIFORGE_") || from.hasPrefix("NIXPACKS_") || from.hasPrefix("variables.")
    }

    func available(_ tool: String, _ options: [DebianToolchain]) -> String {
        if options.isEmpty { return "Debian \(suite.name) does not package \(tool)" }
        let list = options.map { $0.suite == suite.name ? $0.version : "\($0.version) (\($0.suite))" }
        return "Debian \(suite.name) ships \(tool) \(list.joined(separator: ", "))"
    }

    func located(_ message: String, _ request: VersionRequest?) -> PlannerError {
        guard let request else { return PlannerError(.unsupportedToolchain, message) }
        if Self.isSetting(request.from) { return PlannerError(.unsupportedToolchain, message, key: request.from) }
        return PlannerError(.unsupportedToolchain, message, file: request.from, line: request.line, key: request.key)
    }

    func debianOnlyError(_ tool: String, request: VersionRequest?, options: [DebianToolchain]) -> PlannerError {
        let asked = request.map { "\(tool) \($0.value) was requested by \($0.record)" } ?? "\(tool) is needed"
        let override = sourceOverride.map { "source = \"debian\" (\($0.from))" } ?? "source = \"debian\""
        return located(
            "\(asked), but \(available(tool, options)) and \(override) rules out the upstream channel; "
                + "remove that setting (or set it to \"upstream\"), relax the request, or choose another suite with --base / [build] base",
            request)
    }

    func noSourceError(_ tool: String, request: VersionRequest?, options: [DebianToolchain]) -> PlannerError {
        let asked = request.map { "\(tool) \($0.value) was requested by \($0.record)" } ?? "\(tool) is needed"
        var message = "\(asked), but \(available(tool, options))"
        if sourceOverride?.value == .upstream {
            message += ", and source = \"upstream\" is set (\(sourceOverride!.from))"
        }
        message += "; ociforge has no upstream release channel for \(tool): "
        if let line = options.first.map({ Self.releaseLine(tool, $0.version) }) {
            message +=
                "relax the request or build with what Debian ships (e.g. OCIFORGE_\(ProviderContext.envName(tool))_VERSION=\(line) "
                + "or [toolchains.\(tool)] version = \"\(line)\"), choose another suite with --base / [build] base, or use a Dockerfile"
        } else {
            message += "install it in your own [phases.setup] (aptPkgs / cmds), or use a Dockerfile"
        }
        return located(message, request)
    }

    static func releaseLine(_ tool: String, _ version: String) -> String {
        let parts = version.split(separator: ".")
        return (["node", "java"].contains(tool) ? parts.prefix(1) : parts.prefix(2)).joined(separator: ".")
    }
}

extension ProviderContext {
    static func envName(_ tool: String) -> String {
        switch tool {
        case "java": return "JDK"
        case "haskell": return "GHC"
        default: return tool.uppercased()
        }
    }

    /// Resolves one toolchain. Precedence (highest first): the `<TOOL>_VERSION` setting (environment, then
    /// config variables) and `[config.<provider>] version`, `[toolchains.<tool>] version`, mise configs and
    /// `.tool-versions`, then the provider's idiomatic files in the order given, then the default.
    func toolchain(_ tool: String, idiomatic: [VersionRequest?] = [], providerConfig: Bool = true) throws(PlannerError)
        -> Toolchain
    {
        let override =
            providerConfig ? versionOverride(Self.envName(tool)) : settingRequest("\(Self.envName(tool))_VERSION")
        let candidates: [VersionRequest?] =
            [override, toolchains.settings[tool]?.versionRequest, try versionFiles.mise(tool)] + idiomatic
        let request = candidates.compactMap { $0 }.first
        let resolver = ToolchainResolver(
            suite: suite, sourceOverride: try toolchainSource(tool), mirror: toolchainMirror(tool),
            keyring: toolchains.settings[tool]?.keyring)
        return try resolver.resolve(tool, request: request)
    }

    func settingRequest(_ name: String) -> VersionRequest? {
        settingWithSource(name).map { VersionRequest(value: $0.value, from: $0.source) }
    }

    func toolchainSource(_ tool: String) throws(PlannerError) -> (value: Toolchain.Source, from: String)? {
        let name = "TOOLCHAIN_\(tool.uppercased())_SOURCE"
        if let (v, from) = settingWithSource(name) {
            guard let source = Toolchain.Source(rawValue: v.lowercased()) else {
                throw PlannerError(.invalidOption, "\"\(v)\" is not a toolchain source (debian or upstream)", key: from)
            }
            return (source, from)
        }
        return toolchains.settings[tool]?.source.map { ($0, toolchains.location(tool, "source")) }
    }

    func toolchainMirror(_ tool: String) -> String? {
        setting("TOOLCHAIN_\(tool.uppercased())_MIRROR") ?? toolchains.settings[tool]?.mirror
    }
}
