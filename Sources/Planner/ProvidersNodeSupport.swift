/// The package manager a Node app uses, its version and where that came from.
struct NodePackageManager {
    var name: String
    var version: String?
    var berry = false
    var request: ToolchainRequest?
}

extension NodeProvider {
    /// corepack from the npm registry (Node 25 no longer bundles it; Debian's node-corepack 0.24 predates the
    /// npm signing-key rotation).
    static let corepackVersion = "0.34.0"

    /// `[config.node] packageManager` > `packageManager` (`pnpm@9.1.0+sha512.…`) > `devEngines.packageManager` >
    /// lockfiles (pnpm-lock.yaml, bun.lock(b), yarn.lock) > npm.
    static func packageManager(_ ctx: ProviderContext, _ pkg: ConfigNode) throws(PlannerError) -> NodePackageManager {
        let app = ctx.app
        var manager: NodePackageManager
        if let configured = ctx.config.string("packageManager") {
            manager = NodePackageManager(name: configured)
        } else if let field = pkg["packageManager"], let text = field.stringValue {
            let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
            let version = parts.count > 1 ? String(parts[1].split(separator: "+").first ?? "") : nil
            manager = NodePackageManager(
                name: parts[0], version: version,
                request: version.map {
                    ToolchainRequest(constraint: $0, from: "package.json", line: field.line, key: "packageManager")
                })
            guard ["npm", "pnpm", "yarn", "bun"].contains(manager.name) else {
                throw PlannerError(
                    .invalidValue, "unknown package manager \"\(manager.name)\" (npm, pnpm, yarn or bun)",
                    file: "package.json", line: field.line, key: "packageManager")
            }
        } else if let dev = pkg["devEngines"]?["packageManager"],
            let name = dev["name"]?.stringValue ?? dev.arrayValue?.first?["name"]?.stringValue
        {
            let version = dev["version"]?.stringValue ?? dev.arrayValue?.first?["version"]?.stringValue
            manager = NodePackageManager(
                name: name, version: version,
                request: version.map {
                    ToolchainRequest(
                        constraint: $0, from: "package.json", line: dev.line, key: "devEngines.packageManager")
                })
        } else if app.has("pnpm-lock.yaml") {
            manager = NodePackageManager(name: "pnpm")
        } else if app.has("bun.lockb") || app.has("bun.lock") {
            manager = NodePackageManager(name: "bun")
        } else if app.has("yarn.lock") {
            manager = NodePackageManager(name: "yarn")
        } else {
            manager = NodePackageManager(name: "npm")
        }
        manager.berry =
            manager.name == "yarn" && (app.has(".yarnrc.yml") || (manager.version.map { !$0.hasPrefix("1.") } ?? false))
        return manager
    }

    /// `devEngines.runtime` (an object or a list of them) naming node.
    static func devEnginesRuntime(_ pkg: ConfigNode) -> VersionRequest? {
        guard let runtime = pkg["devEngines"]?["runtime"] else { return nil }
        let entries = runtime.arrayValue ?? [runtime]
        for (i, entry) in entries.enumerated() where entry["name"]?.stringValue == "node" {
            guard let v = entry["version"], let value = v.stringValue else { continue }
            let key = runtime.arrayValue == nil ? "devEngines.runtime.version" : "devEngines.runtime[\(i)].version"
            return VersionRequest(value: value, from: "package.json", key: key, line: v.line)
        }
        return nil
    }

    /// pnpm major from the lockfile format: `lockfileVersion: '9.0'` → 9, 6.x → 8, 5.4 → 7; else 9.
    static func pnpmFromLock(_ app: AppDirectory) -> String {
        guard let text = app.read("pnpm-lock.yaml") else { return "9" }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("lockfileVersion:") {
            let v = line.dropFirst("lockfileVersion:".count).trimmed(" '\"")
            if v.hasPrefix("9") { return "9" }
            if v.hasPrefix("6") { return "8" }
            if v.hasPrefix("5") { return "7" }
        }
        return "9"
    }
}

/// Bun apps (`bun.lock`, `bun.lockb`, `packageManager: bun@…`): bun from its upstream channel, no node.
enum BunPlanner {
    static func plan(_ ctx: ProviderContext, pkg: ConfigNode, manager: NodePackageManager) throws(PlannerError)
        -> ProviderOutput
    {
        let app = ctx.app
        let fromField = manager.request.map {
            VersionRequest(value: $0.constraint, from: $0.from, key: $0.key, line: $0.line)
        }
        let bun = try ctx.toolchain(
            "bun", idiomatic: [ctx.versionFiles.file(".bun-version"), fromField], providerConfig: false)
        var out = ProviderOutput()
        out.toolchains = [bun]
        let locked = app.has("bun.lock") || app.has("bun.lockb")
        var phases: [String: PhaseConfig] = [
            "setup": setupPhase([bun]),
            "install": PhaseConfig(
                dependsOn: ["setup"], cmds: [locked ? "bun install --frozen-lockfile" : "bun install"],
                cacheDirectories: ["/root/.bun/install/cache"], paths: ["/app/node_modules/.bin"])
        ]
        let scripts = pkg["scripts"]
        if let build = ctx.config.string("buildScript") ?? (scripts?["build"] != nil ? "build" : nil) {
            phases["build"] = PhaseConfig(dependsOn: ["install"], cmds: ["bun run \(build)"])
        }
        out.phaseInputs["install"] = ctx.existing(["package.json", "bun.lock", "bun.lockb", "bunfig.toml"])
        var start: String? = nil
        if let s = ctx.config.string("startScript") {
            start = "bun run \(s)"
        } else if scripts?["start"] != nil {
            start = "bun run start"
        } else if let main = pkg["main"]?.stringValue ?? pkg["module"]?.stringValue, app.has(main) {
            start = "bun \(shellQuote(main))"
        } else if let entry = ["index.ts", "index.js", "server.ts", "src/index.ts"].first(where: app.has) {
            start = "bun \(entry)"
        }
        out.plan = BuildPlanConfig(
            variables: ["NODE_ENV": "production"], phases: phases, start: StartConfig(cmd: start))
        out.runtimePaths = ["/app/node_modules/.bin"]
        return out
    }
}

extension NodeProvider {
    /// `.yarnrc.yml` `yarnPath` (the committed Yarn release), when the file exists.
    static func yarnPath(_ app: AppDirectory) -> String? {
        guard let text = app.read(".yarnrc.yml") else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("yarnPath:") {
            let path = line.dropFirst("yarnPath:".count).trimmed(" \t\"'")
            if app.has(path) { return path }
        }
        return nil
    }
}
