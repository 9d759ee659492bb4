import Foundation

/// npm/yarn/bun `workspaces` and pnpm-workspace.yaml monorepos (Turborepo and Nx included): dependencies are
/// installed once at the root (every member's package.json is an input of the install step), the chosen app is
/// built through the package manager's workspace filter (or `turbo run build --filter`, `nx run <app>:build`) and
/// started from its directory.
enum JSWorkspace {
    /// The member patterns, nil when the app is not a workspace root.
    static func patterns(_ pkg: ConfigNode, app: AppDirectory) -> [String]? {
        if let list = pkg["workspaces"]?.arrayValue ?? pkg["workspaces"]?["packages"]?.arrayValue {
            return list.compactMap(\.stringValue)
        }
        guard let yaml = app.read("pnpm-workspace.yaml") else { return nil }
        var out: [String] = []
        var inPackages = false
        for line in yaml.split(whereSeparator: \.isNewline) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if !line.hasPrefix(" ") && !line.hasPrefix("-") {
                inPackages = t.hasPrefix("packages:")
                continue
            }
            if inPackages, t.hasPrefix("-") {
                out.append(t.dropFirst().trimmingCharacters(in: CharacterSet(charactersIn: " '\"")))
            }
        }
        return out
    }

    /// Plans the chosen member; false when the app is not a workspace root or its root package is the app itself.
    static func apply(to out: inout ProviderOutput, pkg: ConfigNode, ctx: ProviderContext, pm: String, berry: Bool)
        throws(PlannerError) -> Bool
    {
        let app = ctx.app
        guard let patterns = patterns(pkg, app: app) else { return false }
        if ctx.selectedApp == nil && pkg["scripts"]?["start"] != nil { return false }
        var candidates: [WorkspaceMember] = []
        var manifests: [String: ConfigNode] = [:]
        let dirs = AppSelection.expand(patterns, manifest: "package.json", app: app)
        for dir in dirs {
            guard let member = try app.json(dir + "/package.json") else { continue }
            manifests[dir] = member
            let sub = try AppDirectory(root: app.root + "/" + dir)
            let subCtx = ProviderContext(app: sub, settings: [:], variables: [:], config: ctx.config)
            let framework = try NodeFramework.detect(member, ctx: subCtx)
            if member["scripts"]?["start"] != nil || framework != nil {
                candidates.append(WorkspaceMember(path: dir, name: member["name"]?.stringValue ?? dir))
            }
        }
        let file = app.has("pnpm-workspace.yaml") ? "pnpm-workspace.yaml" : "package.json"
        let chosen = try AppSelection.choose(
            candidates, selected: ctx.selectedApp, workspace: "the \(pm) workspace", file: file)
        let member = manifests[chosen.path]!
        var inputs = Set(out.phaseInputs["install"] ?? [])
        for d in dirs {
            inputs.insert(d + "/package.json")
            if let m = manifests[d], let sub = try? AppDirectory(root: app.root + "/" + d) {
                for local in NodeLocalDependencies.directories(m, app: sub) {
                    inputs.insert(NodeFramework.clean(d + "/" + local))
                }
            }
        }
        out.phaseInputs["install"] = inputs.sorted()

        var phases = out.plan.phases ?? [:]
        if member["scripts"]?["build"] != nil {
            var build =
                phases["build"] ?? PhaseConfig(dependsOn: ["install"], cacheDirectories: ["/app/node_modules/.cache"])
            build.cmds = [buildCommand(chosen, pm: pm, berry: berry, app: app)]
            phases["build"] = build
        } else {
            phases["build"] = nil
        }
        out.plan.phases = phases

        let sub = try AppDirectory(root: app.root + "/" + chosen.path)
        let subCtx = ProviderContext(app: sub, settings: ctx.settings, variables: ctx.variables, config: ctx.config)
        var start = out.plan.start ?? StartConfig()
        start.cmd = member["scripts"]?["start"]?.stringValue.map { "cd \(shellQuote(chosen.path)) && \($0)" }
        out.plan.start = start
        out.runtimePaths = ["/app/\(chosen.path)/node_modules/.bin"] + out.runtimePaths
        if let framework = try NodeFramework.detect(member, ctx: subCtx) {
            switch framework {
            case var .staticSite(site):
                site.root = site.root == "." ? chosen.path : chosen.path + "/" + site.root
                site.apply(to: &out, app: app)
            case let .server(name, command, variables, writable, extra, include):
                NodeFramework.server(
                    name: name, command: "cd \(shellQuote(chosen.path)) && \(command)", variables: variables,
                    writable: writable.map { chosen.path + "/" + $0 },
                    build: extra.map { "cd \(shellQuote(chosen.path)) && \($0)" },
                    include: include.map { $0.map { chosen.path + "/" + $0 } }
                ).apply(to: &out, app: app)
            }
        }
        out.notes.append(
            PlannerWarning(
                "workspace app \(chosen.label) (candidates: \(candidates.map(\.path).joined(separator: ", ")))"))
        return true
    }

    static func buildCommand(_ m: WorkspaceMember, pm: String, berry: Bool, app: AppDirectory) -> String {
        if app.has("turbo.json") { return "turbo run build --filter=\(shellQuote(m.name))..." }
        if app.has("nx.json") { return "nx run \(shellQuote(m.name)):build" }
        switch pm {
        case "pnpm": return "pnpm --filter \(shellQuote(m.name))... run build"
        case "yarn" where berry: return "yarn workspaces foreach -Rt --from \(shellQuote(m.name)) run build"
        case "yarn": return "yarnpkg workspace \(shellQuote(m.name)) run build"
        default: return "npm run build --workspace=\(shellQuote(m.path))"
        }
    }
}
