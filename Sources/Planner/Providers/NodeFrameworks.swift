import Foundation

/// What a Node front-end framework produces, from package.json dependencies and its config files: a static site
/// (served by Caddy, see `StaticSite`) or a server with its real start command.
enum NodeFramework: Equatable {
    case staticSite(StaticSite)
    /// The framework's production server; `name` for the plan notes.
    /// `build` commands run after the app's build; `include` narrows what the runtime copies.
    case server(
        name: String, command: String, variables: [String: String], writable: [String], build: [String] = [],
        include: [String]? = nil)

    /// Node servers of these frameworks listen on $PORT, 3000 by convention.
    static let serverPort = "3000"

    struct Package {
        let node: ConfigNode
        func has(_ dep: String) -> Bool {
            node["dependencies"]?[dep] != nil || node["devDependencies"]?[dep] != nil
        }
        func script(_ name: String) -> String? { node["scripts"]?[name]?.stringValue }
    }

    /// Start scripts that only run a development or preview server: a static build is served by Caddy instead.
    static let devServerPrefixes = [
        "vite", "react-scripts start", "ng serve", "serve ", "http-server", "astro dev",
        "astro preview", "expo start", "nuxt dev", "next dev"
    ]

    /// Detects the framework. An explicit output directory (`[config.node] staticDir`, OCIFORGE_STATIC_DIR,
    /// NIXPACKS_SPA_OUT_DIR) makes the app a static site whatever its dependencies.
    static func detect(_ pkgNode: ConfigNode, ctx: ProviderContext) throws(PlannerError) -> NodeFramework? {
        let app = ctx.app
        let pkg = Package(node: pkgNode)
        if let dir = ctx.setting("SPA_OUT_DIR") ?? ctx.setting("STATIC_DIR") ?? ctx.config.string("staticDir") {
            let root = clean(dir)
            if root.hasPrefix("/") || root.split(separator: "/").contains("..") {
                throw PlannerError(
                    .invalidValue, "the static output directory \"\(dir)\" must be a relative path inside the app",
                    key: "config.node.staticDir")
            }
            let spa = ctx.config.bool("spa") ?? (ctx.setting("SPA_OUT_DIR") != nil || ctx.setting("STATIC_DIR") == nil)
            return .staticSite(StaticSite(framework: .configured, root: root, spa: spa))
        }
        if let server = serverFramework(pkg, app) { return server }
        let start = pkg.script("start")
        let startIsDevServer = start.map { s in devServerPrefixes.contains { s.hasPrefix($0) } } ?? true
        guard startIsDevServer else { return nil }
        let configSPA = ctx.config.bool("spa")
        func site(_ f: StaticSite.Framework, _ root: String, spa: Bool) -> NodeFramework {
            .staticSite(StaticSite(framework: f, root: root, spa: configSPA ?? spa))
        }
        if pkg.has("next"), nextOutput(app) == "export" { return site(.nextExport, "out", spa: false) }
        if pkg.has("nuxt"),
            pkg.script("build")?.contains("nuxt generate") == true
                || pkg.script("generate") != nil && pkg.script("build") == nil
        {
            return site(.nuxtGenerate, ".output/public", spa: false)
        }
        if pkg.has("@sveltejs/adapter-static") {
            let spa =
                configText(app, ["svelte.config.js", "svelte.config.mjs", "svelte.config.ts"])?.contains("fallback")
                ?? false
            return site(.sveltekit, "build", spa: spa)
        }
        if pkg.has("astro") { return site(.astro, "dist", spa: false) }
        if pkg.has("@angular/core"), let out = angularOutput(app) { return site(.angular, out, spa: true) }
        if pkg.has("react-scripts") { return site(.createReactApp, "build", spa: true) }
        if pkg.has("expo"), pkg.script("build")?.contains("expo export") == true {
            return site(.expo, "dist", spa: true)
        }
        if pkg.has("vite"), pkg.has("@remix-run/dev") == false, pkg.has("@react-router/dev") == false,
            pkg.script("build") != nil
        {
            return site(.vite, viteOutDir(app) ?? "dist", spa: true)
        }
        return nil
    }

    /// Server-rendered frameworks, each with its production server.
    static func serverFramework(_ pkg: Package, _ app: AppDirectory) -> NodeFramework? {
        let start = pkg.script("start")
        /// The framework command unless the app's own start script runs something else (a custom server).
        func server(
            _ name: String, _ command: String, cli: [String], variables: [String: String] = [:],
            writable: [String] = [], build: [String] = [], include: [String]? = nil
        ) -> NodeFramework? {
            if let start, !cli.contains(where: { start.hasPrefix($0) }) { return nil }
            return .server(
                name: name, command: command, variables: variables, writable: writable, build: build, include: include)
        }
        if pkg.has("next") {
            switch nextOutput(app) {
            case "export": return nil
            case "standalone":
                // The standalone server carries its own node_modules; static files and public/ are copied beside it.
                return server(
                    "next (standalone)", "node .next/standalone/server.js",
                    cli: ["next start", "node .next/standalone"],
                    variables: ["HOSTNAME": "0.0.0.0"], writable: [".next/standalone/.next/cache"],
                    build: [
                        "cp -r .next/static .next/standalone/.next/",
                        "if [ -d public ]; then cp -r public .next/standalone/; fi"
                    ],
                    include: [".next/standalone"])
            default:
                return server(
                    "next", "next start -H 0.0.0.0 -p ${PORT:-3000}", cli: ["next start"], writable: [".next/cache"])
            }
        }
        if pkg.has("nuxt") && pkg.script("build")?.contains("nuxt generate") != true {
            return server(
                "nuxt", "node .output/server/index.mjs", cli: ["nuxt start", "node .output/server"],
                variables: ["HOST": "0.0.0.0", "NITRO_HOST": "0.0.0.0"])
        }
        if pkg.has("@tanstack/react-start") || pkg.has("@tanstack/solid-start") {
            return server(
                "tanstack-start", "node .output/server/index.mjs", cli: ["node .output/server", "vinxi start"],
                variables: ["HOST": "0.0.0.0"])
        }
        if pkg.has("@sveltejs/adapter-node") {
            return server("sveltekit (adapter-node)", "node build", cli: ["node build"], variables: ["HOST": "0.0.0.0"])
        }
        if pkg.has("@react-router/serve") {
            return server("react-router", "react-router-serve ./build/server/index.js", cli: ["react-router-serve"])
        }
        if pkg.has("@remix-run/serve") {
            let vite = ["vite.config.ts", "vite.config.js", "vite.config.mjs"].contains(where: app.has)
            return server("remix", "remix-serve ./build\(vite ? "/server" : "")/index.js", cli: ["remix-serve"])
        }
        if pkg.has("astro") && pkg.has("@astrojs/node") {
            return server(
                "astro (node adapter)", "node dist/server/entry.mjs", cli: ["node dist/server", "node ./dist/server"],
                variables: ["HOST": "0.0.0.0"])
        }
        return nil
    }

    /// `output` in next.config.*: "export", "standalone" or nil.
    static func nextOutput(_ app: AppDirectory) -> String? {
        guard let text = configText(app, ["next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs"])
        else { return nil }
        for value in ["export", "standalone"] {
            if text.contains("output: '\(value)'") || text.contains("output: \"\(value)\"")
                || text.contains("output:'\(value)'")
                || text.contains("output:\"\(value)\"")
            {
                return value
            }
        }
        return nil
    }

    /// Angular's browser output: `outputPath` of the first project (string or `{ base }`), `/browser` below it
    /// with the application builder.
    static func angularOutput(_ app: AppDirectory) -> String? {
        guard let json = try? app.json("angular.json"), let projects = json["projects"] else { return nil }
        guard let name = json["defaultProject"]?.stringValue ?? projects.keys.first, let project = projects[name] else {
            return nil
        }
        let build = project["architect"]?["build"]
        let builder = build?["builder"]?.stringValue ?? ""
        let output = build?["options"]?["outputPath"]
        let base = output?.stringValue ?? output?["base"]?.stringValue ?? "dist/\(name)"
        let applicationBuilder = builder.hasSuffix(":application") || builder.isEmpty
        return clean(applicationBuilder ? base + "/" + (output?["browser"]?.stringValue ?? "browser") : base)
    }

    /// `build.outDir` in vite.config.* when written as a string literal.
    static func viteOutDir(_ app: AppDirectory) -> String? {
        guard let text = configText(app, ["vite.config.ts", "vite.config.js", "vite.config.mjs", "vite.config.mts"]),
            let r = text.range(of: "outDir:")
        else { return nil }
        let rest = text[r.upperBound...].drop { $0 == " " }
        guard let quote = rest.first, quote == "'" || quote == "\"" else { return nil }
        let value = rest.dropFirst().prefix { $0 != quote }
        return value.isEmpty ? nil : clean(String(value))
    }

    static func configText(_ app: AppDirectory, _ names: [String]) -> String? {
        names.lazy.compactMap { app.read($0) }.first
    }

    static func clean(_ dir: String) -> String {
        var d = dir
        while d.hasPrefix("./") { d.removeFirst(2) }
        while d.hasSuffix("/") && d.count > 1 { d.removeLast() }
        return d.isEmpty ? "." : d
    }

    /// Applies the framework to the Node provider's output.
    func apply(to out: inout ProviderOutput, app: AppDirectory) {
        switch self {
        case let .staticSite(site):
            site.apply(to: &out, app: app)
            out.notes.append(
                PlannerWarning(
                    "\(site.framework.rawValue) static output \(site.root)/ is served by Caddy\(site.spa ? " (single-page app: unknown paths answer index.html)" : "")"
                ))
        case let .server(name, command, variables, writable, build, include):
            var start = out.plan.start ?? StartConfig()
            start.cmd = command
            out.plan.start = start
            out.runtimeVariables["PORT"] = Self.serverPort
            for (k, v) in variables { out.runtimeVariables[k] = v }
            out.writablePaths = writable
            if !build.isEmpty, var phase = out.plan.phases?["build"] {
                phase.cmds = (phase.cmds ?? []) + build
                out.plan.phases?["build"] = phase
            }
            if let include { out.deployInclude = include }
            out.notes.append(PlannerWarning("\(name): started with `\(command)`"))
        }
    }
}
