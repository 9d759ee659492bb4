import Foundation

/// Everything a provider may look at while planning.
struct ProviderContext {
    let app: AppDirectory
    /// Normalized settings: NIXPACKS_X / OCIFORGE_X both appear as `X` (OCIFORGE_ wins).
    let settings: [String: String]
    /// Variables from config files and the CLI (visible to providers, as in Nixpacks).
    let variables: [String: String]
    let config: ProviderConfig
    /// The Debian suite of the build image (selects the Debian toolchain tables).
    var suite: DebianSuite = Debian.suites[Debian.defaultSuite]!
    var toolchains = ToolchainSettings()

    var versionFiles: VersionFiles { VersionFiles(app: app) }
    /// The workspace member chosen with `--app`, `app` in ociforge.toml or OCIFORGE_APP (nil: decide or ask).
    var selectedApp: String? = nil

    /// A NIXPACKS_/OCIFORGE_ setting: from the environment, else from the config's `variables` (as Nixpacks does).
    func setting(_ name: String) -> String? { settingWithSource(name)?.value }

    func settingWithSource(_ name: String) -> (value: String, source: String)? {
        if let v = settings[name], !v.isEmpty { return (v, "\(settings["__source_\(name)"] ?? "NIXPACKS")_\(name)") }
        for prefix in ["OCIFORGE_", "NIXPACKS_"] {
            if let v = variables[prefix + name], !v.isEmpty { return (v, "variables.\(prefix)\(name)") }
        }
        return nil
    }

    /// A version request from the environment (`X_VERSION`), config variables, or `[config.<p>] version`.
    func versionOverride(_ envName: String) -> VersionRequest? {
        if let request = settingRequest("\(envName)_VERSION") { return request }
        if let v = config.string("version") {
            return VersionRequest(
                value: v, from: toolchains.settings.isEmpty ? "config" : "ociforge.toml",
                key: "config.\(config.provider).version")
        }
        return nil
    }

    func existing(_ paths: [String]) -> [String] { paths.filter { app.has($0) } }
}

/// What one provider contributes.
struct ProviderOutput {
    var plan = BuildPlanConfig()
    var toolchains: [Toolchain] = []
    /// For phases that should see only some app files (manifests before install).
    var phaseInputs: [String: [String]] = [:]
    var runtimePackages: [String] = []
    /// What the runtime image copies from the build (`.` = the whole /app).
    var deployInclude: [String] = ["."]
    var runtimePaths: [String] = []
    var runtimeVariables: [String: String] = [:]
    /// Paths under /app the runtime user must be able to write (see `RuntimeUser`).
    var writablePaths: [String] = []
    var notes: [PlannerWarning] = []
    var packageManagers: [PackageManager] = []
    /// Debian packages a provider adds to setup besides its toolchains' (e.g. Debian's yarnpkg).
    var extraSetupPackages: [String] = []
}

protocol Provider: Sendable {
    var name: String { get }
    /// The files whose presence selects this provider (for the "no provider" message).
    var triggers: [String] { get }
    /// The file that selects this provider for `app`, if any (default: the first of `triggers` the app has).
    func detect(_ app: AppDirectory) -> String?
    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput
}

extension Provider {
    func detect(_ app: AppDirectory) -> String? { triggers.first(where: app.has) }
}

/// `[config.<provider>]`: typed per-provider settings.
public struct ProviderConfig: Sendable, Equatable {
    public enum FieldType: Sendable, Equatable {
        case string, bool
        case oneOf([String])
        case stringList
    }
    public var provider: String
    public var values: [String: ConfigValue] = [:]

    public init(provider: String, values: [String: ConfigValue] = [:]) {
        self.provider = provider
        self.values = values
    }

    func string(_ key: String) -> String? { if case let .string(s)? = values[key] { return s } else { return nil } }
    func bool(_ key: String) -> Bool? { if case let .bool(b)? = values[key] { return b } else { return nil } }

    /// The schema of every provider's config block.
    static let schemas: [String: [String: FieldType]] = [
        "node": [
            "version": .string, "packageManager": .oneOf(["npm", "pnpm", "yarn", "bun"]), "buildScript": .string,
            "startScript": .string, "staticDir": .string, "spa": .bool
        ],
        "python": [
            "version": .string, "packageManager": .oneOf(["pip", "poetry", "pdm", "uv", "pipenv"]),
            "module": .string, "server": .oneOf(["gunicorn", "uvicorn", "python"])
        ],
        "go": ["version": .string, "bin": .string, "cgo": .bool],
        "rust": ["version": .string, "bin": .string],
        "ruby": ["version": .string],
        "php": ["version": .string, "rootDir": .string],
        "java": ["version": .string, "buildTool": .oneOf(["maven", "gradle"])],
        "elixir": ["version": .string],
        "clojure": ["version": .string, "main": .string],
        "haskell": ["version": .string],
        "crystal": ["version": .string],
        "cobol": ["version": .string, "main": .string],
        "deno": ["version": .string], "dotnet": ["version": .string], "zig": ["version": .string],
        "gleam": ["version": .string], "dart": ["version": .string], "swift": ["version": .string],
        "scala": ["version": .string],
        "staticfile": ["root": .string, "spa": .bool],
        "shell": ["script": .string]
    ]
}

extension ConfigReader {
    mutating func providerConfigs(_ node: ConfigNode, _ path: String) throws(PlannerError) -> [String: ProviderConfig] {
        var out: [String: ProviderConfig] = [:]
        let known = ProviderConfig.schemas.keys.sorted()
        for entry in try table(node, path, keys: known) {
            let schema = ProviderConfig.schemas[entry.key]!
            var config = ProviderConfig(provider: entry.key)
            for field in try table(entry.node, entry.path, keys: schema.keys.sorted()) {
                switch schema[field.key]! {
                case .string:
                    let s = try string(field.node, field.path)
                    if s.isEmpty { throw fail(.invalidValue, "must not be empty", field.node, field.path) }
                    config.values[field.key] = .string(s)
                case .bool:
                    config.values[field.key] = .bool(try bool(field.node, field.path))
                case let .oneOf(allowed):
                    let s = try string(field.node, field.path)
                    guard allowed.contains(s) else {
                        throw fail(
                            .invalidValue, "\"\(s)\" is not one of \(allowed.joined(separator: ", "))", field.node,
                            field.path)
                    }
                    config.values[field.key] = .string(s)
                case .stringList:
                    config.values[field.key] = .array(
                        try stringArray(field.node, field.path).map { ConfigNode(.string($0)) })
                }
            }
            out[entry.key] = config
        }
        return out
    }
}

enum Providers {
    /// Detection order: backend languages before node, so a package.json used only for assets does not win;
    /// staticfile and shell last.
    static let all: [any Provider] = [
        RubyProvider(), PHPProvider(), GoProvider(), JavaProvider(), RustProvider(), ElixirProvider(),
        ClojureProvider(), ScalaProvider(), HaskellProvider(), CrystalProvider(), DotnetProvider(), DartProvider(),
        SwiftProvider(), ZigProvider(), GleamProvider(), CobolProvider(), DenoProvider(),
        PythonProvider(), NodeProvider(), StaticfileProvider(), ShellProvider()
    ]

    static func named(_ name: String) -> (any Provider)? { all.first { $0.name == name } }
}

// MARK: - helpers shared by providers

/// The setup phase: the Debian toolchains' packages (and PATH entries) plus extra packages.
func setupPhase(_ toolchains: [Toolchain], extra: [String] = [], cmds: [String]? = nil) -> PhaseConfig {
    var pkgs = toolchains.flatMap(\.packages) + extra
    pkgs = Array(Set(pkgs)).sorted()
    let paths = toolchains.flatMap { $0.debian?.paths ?? [] }
    return PhaseConfig(aptPkgs: pkgs, cmds: cmds, paths: paths.isEmpty ? nil : paths)
}

func shellQuote(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@%+,".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
