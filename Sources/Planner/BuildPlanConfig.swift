/// The Nixpacks plan schema, as accepted from nixpacks.toml / nixpacks.json / ociforge.toml, providers, the
/// Procfile, environment variables and CLI flags. Every field is optional: `nil` means "not set at this level",
/// which is what makes the merge rules work. Arrays may contain the splice markers `"..."` / `"@auto"`.
public struct PhaseConfig: Equatable, Sendable, Codable {
    public var name: String?
    public var dependsOn: [String]?
    public var nixPkgs: [String]?
    public var nixLibs: [String]?
    public var nixOverlays: [String]?
    public var nixpkgsArchive: String?
    public var aptPkgs: [String]?
    public var cmds: [String]?
    public var onlyIncludeFiles: [String]?
    public var cacheDirectories: [String]?
    public var paths: [String]?

    public init(
        name: String? = nil, dependsOn: [String]? = nil, nixPkgs: [String]? = nil, nixLibs: [String]? = nil,
        nixOverlays: [String]? = nil, nixpkgsArchive: String? = nil, aptPkgs: [String]? = nil,
        cmds: [String]? = nil, onlyIncludeFiles: [String]? = nil, cacheDirectories: [String]? = nil,
        paths: [String]? = nil
    ) {
        self.name = name
        self.dependsOn = dependsOn
        self.nixPkgs = nixPkgs
        self.nixLibs = nixLibs
        self.nixOverlays = nixOverlays
        self.nixpkgsArchive = nixpkgsArchive
        self.aptPkgs = aptPkgs
        self.cmds = cmds
        self.onlyIncludeFiles = onlyIncludeFiles
        self.cacheDirectories = cacheDirectories
        self.paths = paths
    }

    /// `self` has the higher priority.
    public func merged(over lower: PhaseConfig) -> PhaseConfig {
        PhaseConfig(
            name: name ?? lower.name,
            dependsOn: Merge.array(lower.dependsOn, dependsOn),
            nixPkgs: Merge.array(lower.nixPkgs, nixPkgs),
            nixLibs: Merge.array(lower.nixLibs, nixLibs),
            nixOverlays: Merge.array(lower.nixOverlays, nixOverlays),
            nixpkgsArchive: nixpkgsArchive ?? lower.nixpkgsArchive,
            aptPkgs: Merge.array(lower.aptPkgs, aptPkgs),
            cmds: Merge.array(lower.cmds, cmds),
            onlyIncludeFiles: Merge.array(lower.onlyIncludeFiles, onlyIncludeFiles),
            cacheDirectories: Merge.array(lower.cacheDirectories, cacheDirectories),
            paths: Merge.array(lower.paths, paths))
    }
}

public struct StartConfig: Equatable, Sendable, Codable {
    public var cmd: String?
    public var runImage: String?
    public var onlyIncludeFiles: [String]?
    public var user: String?

    public init(cmd: String? = nil, runImage: String? = nil, onlyIncludeFiles: [String]? = nil, user: String? = nil) {
        self.cmd = cmd
        self.runImage = runImage
        self.onlyIncludeFiles = onlyIncludeFiles
        self.user = user
    }

    public func merged(over lower: StartConfig) -> StartConfig {
        StartConfig(
            cmd: cmd ?? lower.cmd, runImage: runImage ?? lower.runImage,
            onlyIncludeFiles: Merge.array(lower.onlyIncludeFiles, onlyIncludeFiles), user: user ?? lower.user)
    }
}

public struct BuildPlanConfig: Equatable, Sendable, Codable {
    public var providers: [String]?
    public var buildImage: String?
    public var variables: [String: String]?
    public var staticAssets: [String: String]?
    public var phases: [String: PhaseConfig]?
    public var start: StartConfig?

    public init(
        providers: [String]? = nil, buildImage: String? = nil, variables: [String: String]? = nil,
        staticAssets: [String: String]? = nil, phases: [String: PhaseConfig]? = nil, start: StartConfig? = nil
    ) {
        self.providers = providers
        self.buildImage = buildImage
        self.variables = variables
        self.staticAssets = staticAssets
        self.phases = phases
        self.start = start
    }

    /// Nixpacks' merge: scalars override when present, arrays replace except where they splice `...`/`@auto`,
    /// maps merge key by key, phases merge by name, start merges field by field. `self` has the higher priority.
    public func merged(over lower: BuildPlanConfig) -> BuildPlanConfig {
        var out = BuildPlanConfig()
        out.providers = Merge.array(lower.providers, providers)
        out.buildImage = buildImage ?? lower.buildImage
        out.variables = Merge.map(lower.variables, variables)
        out.staticAssets = Merge.map(lower.staticAssets, staticAssets)
        switch (lower.phases, phases) {
        case (nil, nil): out.phases = nil
        case (let l?, nil): out.phases = l
        case (nil, let h?): out.phases = h
        case (let l?, let h?):
            var merged = l
            for (name, phase) in h { merged[name] = phase.merged(over: l[name] ?? PhaseConfig()) }
            out.phases = merged
        }
        switch (lower.start, start) {
        case (nil, nil): out.start = nil
        case (let l?, nil): out.start = l
        case (nil, let h?): out.start = h
        case (let l?, let h?): out.start = h.merged(over: l)
        }
        return out
    }

    /// Merge a chain given from lowest to highest priority.
    public static func merging(_ chain: [BuildPlanConfig]) -> BuildPlanConfig {
        chain.reduce(BuildPlanConfig()) { $1.merged(over: $0) }
    }

    /// Prefix every phase name (and the dependsOn entries naming this plan's own phases) with `prefix:`.
    func prefixed(_ prefix: String) -> BuildPlanConfig {
        guard let phases else { return self }
        var out = self
        var renamed: [String: PhaseConfig] = [:]
        let own = Set(phases.keys)
        for (name, var phase) in phases {
            phase.dependsOn = phase.dependsOn?.map { own.contains($0) ? "\(prefix):\($0)" : $0 }
            if phase.dependsOn == nil, let implied = PhaseConfig.defaultDependsOn(name), own.contains(implied) {
                phase.dependsOn = ["\(prefix):\(implied)"]
            }
            renamed["\(prefix):\(name)"] = phase
        }
        out.phases = renamed
        return out
    }
}

extension PhaseConfig {
    /// Nixpacks' implied ordering: install after setup, build after install.
    static func defaultDependsOn(_ name: String) -> String? {
        switch name {
        case "install": return "setup"
        case "build": return "install"
        default: return nil
        }
    }
}

public enum Merge {
    public static let markers: Set<String> = ["...", "@auto"]

    /// `higher` replaces `lower`, except that each marker in `higher` is replaced by all of `lower`'s elements.
    /// Markers in `lower` are kept (they splice whatever is below, when the chain continues), so the operation is
    /// associative; `finalize` removes leftover markers.
    public static func array(_ lower: [String]?, _ higher: [String]?) -> [String]? {
        guard let higher else { return lower }
        guard higher.contains(where: { markers.contains($0) }) else { return higher }
        var out: [String] = []
        for element in higher {
            if markers.contains(element) {
                if let lower { out.append(contentsOf: lower) } else { out.append(element) }
            } else {
                out.append(element)
            }
        }
        return out
    }

    public static func map(_ lower: [String: String]?, _ higher: [String: String]?) -> [String: String]? {
        guard let higher else { return lower }
        guard var out = lower else { return higher }
        for (k, v) in higher { out[k] = v }
        return out
    }

    /// Remove splice markers left in a fully merged array.
    public static func finalize(_ array: [String]?) -> [String] {
        (array ?? []).filter { !markers.contains($0) }
    }
}
