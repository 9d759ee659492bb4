/// The internal, executable plan: what the executor consumes. Everything is resolved (no splice markers, no
/// Nix names, versions chosen) and every collection is in a deterministic order, so the JSON (sorted keys) is
/// byte-for-byte stable for the same inputs.
public struct ResolvedPlan: Codable, Equatable, Sendable {
    /// 2: toolchains carry their source (debian / upstream), request origin and upstream pins; packageManagers.
    public static let currentSchemaVersion = 2

    public enum Strategy: String, Codable, Sendable { case plan, dockerfile }

    public var schemaVersion: Int
    public var strategy: Strategy
    /// Set when `strategy == .dockerfile`: the executor builds this Dockerfile instead of the steps.
    public var dockerfile: DockerfileBuild?
    /// Providers that contributed, in order (the first one's phases are unprefixed).
    public var providers: [String]
    /// The Debian suite the toolchains come from.
    public var suite: String
    /// The image the build steps run in.
    public var buildImage: String
    public var toolchains: [Toolchain]
    /// Package managers installed at the version the project asks for (informational: the steps' commands
    /// install them).
    public var packageManagers: [PackageManager]
    /// Extra apt suites the build stage must enable (e.g. `trixie-backports`) because a toolchain's packages
    /// come from there; such packages appear in steps as `name/suite`.
    public var aptSuites: [String]
    /// Variables visible to build steps.
    public var buildVariables: [String: String]
    /// Secret names: supplied by the caller at build time, mounted into steps, never written into the image.
    public var secrets: [String]
    public var staticAssets: [String: String]
    public var caches: [String: Cache]
    /// Steps in a topological order (ties broken by name).
    public var steps: [Step]
    /// The runtime stage; nil for the Dockerfile strategy (the Dockerfile decides).
    public var deploy: Deploy?
    public var context: BuildContext
    public var image: ImageTarget
    /// True when this plan was read from a frozen plan file rather than resolved.
    public var frozen: Bool
    /// `[toolchains.mirrors]` of ociforge.toml: base URL per channel endpoint key for the engine's toolchain
    /// downloads (`OCIFORGE_TOOLCHAINS_<KEY>_URL` and `--toolchain-mirror` win over it); nil when none is set.
    public var toolchainMirrors: [String: String]?

    public init(
        schemaVersion: Int = ResolvedPlan.currentSchemaVersion, strategy: Strategy, dockerfile: DockerfileBuild?,
        providers: [String], suite: String, buildImage: String, toolchains: [Toolchain],
        packageManagers: [PackageManager] = [], aptSuites: [String] = [], buildVariables: [String: String],
        secrets: [String], staticAssets: [String: String],
        caches: [String: Cache], steps: [Step], deploy: Deploy?, context: BuildContext, image: ImageTarget,
        frozen: Bool
    ) {
        self.schemaVersion = schemaVersion
        self.strategy = strategy
        self.dockerfile = dockerfile
        self.providers = providers
        self.suite = suite
        self.buildImage = buildImage
        self.toolchains = toolchains
        self.packageManagers = packageManagers
        self.aptSuites = aptSuites
        self.buildVariables = buildVariables
        self.secrets = secrets
        self.staticAssets = staticAssets
        self.caches = caches
        self.steps = steps
        self.deploy = deploy
        self.context = context
        self.image = image
        self.frozen = frozen
    }
}

public struct DockerfileBuild: Codable, Equatable, Sendable {
    /// Relative to the app directory.
    public var path: String
    public var context: String
    public var args: [String: String]
    /// `--target` (nil: the last stage).
    public var target: String?
    public init(path: String, context: String, args: [String: String], target: String? = nil) {
        self.path = path
        self.context = context
        self.args = args
        self.target = target
    }
}

public struct Cache: Codable, Equatable, Sendable {
    public enum Sharing: String, Codable, Sendable { case shared, locked }
    public var directory: String
    public var sharing: Sharing
    public init(directory: String, sharing: Sharing) {
        self.directory = directory
        self.sharing = sharing
    }
}

/// Which files a step sees: the outputs of another step, or app files (include/exclude patterns relative to the
/// app directory; `.` is everything not excluded by the context rules).
public struct StepInput: Codable, Equatable, Sendable {
    public var step: String?
    public var local: Bool
    public var include: [String]
    public var exclude: [String]
    public init(step: String? = nil, local: Bool = false, include: [String] = ["."], exclude: [String] = []) {
        self.step = step
        self.local = local
        self.include = include
        self.exclude = exclude
    }
    public static func from(step: String) -> StepInput { StepInput(step: step, local: false, include: ["."]) }
    public static func app(_ include: [String]) -> StepInput { StepInput(step: nil, local: true, include: include) }
}

public struct Step: Codable, Equatable, Sendable {
    public var name: String
    public var dependsOn: [String]
    public var inputs: [StepInput]
    /// Debian packages installed before the commands (sorted, unique).
    public var aptPackages: [String]
    public var commands: [String]
    /// Names of entries in `ResolvedPlan.caches`.
    public var caches: [String]
    /// Directories prepended to PATH for this and later steps and at runtime.
    public var paths: [String]
    public var secrets: [String]
    public init(
        name: String, dependsOn: [String], inputs: [StepInput], aptPackages: [String], commands: [String],
        caches: [String], paths: [String], secrets: [String]
    ) {
        self.name = name
        self.dependsOn = dependsOn
        self.inputs = inputs
        self.aptPackages = aptPackages
        self.commands = commands
        self.caches = caches
        self.paths = paths
        self.secrets = secrets
    }
}

public struct Deploy: Codable, Equatable, Sendable {
    /// The runtime base image (slim: no build tools).
    public var base: String
    /// Debian packages the app needs at runtime (sorted, unique).
    public var aptPackages: [String]
    /// What is copied from the build into the runtime image.
    public var inputs: [StepInput]
    public var startCommand: String?
    public var workingDirectory: String
    /// Runtime environment (image config Env).
    public var env: [String: String]
    /// PATH entries, prepended to the default PATH in the image config.
    public var paths: [String]
    public var user: String?
    /// The unprivileged account to create in the runtime stage (nil: run as root, or a uid the base provides).
    public var runtimeUser: RuntimeUser?
    public init(
        base: String, aptPackages: [String], inputs: [StepInput], startCommand: String?,
        workingDirectory: String, env: [String: String], paths: [String], user: String?,
        runtimeUser: RuntimeUser? = nil
    ) {
        self.runtimeUser = runtimeUser
        self.base = base
        self.aptPackages = aptPackages
        self.inputs = inputs
        self.startCommand = startCommand
        self.workingDirectory = workingDirectory
        self.env = env
        self.paths = paths
        self.user = user
    }
}

public struct BuildContext: Codable, Equatable, Sendable {
    /// The exclusion patterns in force (dockerignore syntax), in order.
    public var exclude: [String]
    public var useGitignore: Bool
    /// The app files that are inputs, relative, sorted by bytes.
    public var files: [String]
    public init(exclude: [String], useGitignore: Bool, files: [String]) {
        self.exclude = exclude
        self.useGitignore = useGitignore
        self.files = files
    }
}

public struct ImageTarget: Codable, Equatable, Sendable {
    public var name: String
    public var tag: String
    /// `name:tag`, or the full reference given by `options.image`.
    public var reference: String
    public init(name: String, tag: String, reference: String) {
        self.name = name
        self.tag = tag
        self.reference = reference
    }
}
