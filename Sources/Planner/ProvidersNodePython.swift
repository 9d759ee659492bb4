import Foundation

struct NodeProvider: Provider {
    let name = "node"
    let triggers = ["package.json"]
    func detect(_ app: AppDirectory) -> String? { app.has("package.json") ? "package.json" : nil }

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        guard let pkg = try app.json("package.json") else { throw PlannerError(.io, "cannot read", file: "package.json") }
        guard case .table = pkg.value else {
            throw PlannerError(.type, "package.json must be a JSON object", file: "package.json", line: pkg.line)
        }
        let scripts = pkg["scripts"]
        let field = pkg["packageManager"]?.stringValue
        var pm: String
        var pmVersion: String? = nil
        if let configured = ctx.config.string("packageManager") {
            pm = configured
        } else if let field {
            let parts = field.split(separator: "@", maxSplits: 1).map(String.init)
            pm = parts[0]
            pmVersion = parts.count > 1 ? String(parts[1].split(separator: "+").first ?? "") : nil
            guard ["npm", "pnpm", "yarn", "bun"].contains(pm) else {
                throw PlannerError(.invalidValue, "unknown package manager \"\(pm)\" (npm, pnpm, yarn or bun)",
                                   file: "package.json", line: pkg["packageManager"]?.line, key: "packageManager")
            }
        } else if app.has("pnpm-lock.yaml") { pm = "pnpm" }
        else if app.has("bun.lockb") || app.has("bun.lock") { pm = "bun" }
        else if app.has("yarn.lock") { pm = "yarn" }
        else { pm = "npm" }
        if pm == "bun" {
            let file = field != nil ? "package.json" : (app.has("bun.lockb") ? "bun.lockb" : "bun.lock")
            throw Debian.unavailableError("bun", provider: "node", because: "the app uses the bun package manager", file: file)
        }

        let engines = pkg["engines"]?["node"]?.stringValue
        let toolchain = try VersionResolver.resolve("node", requests: [
            ctx.versionOverride("NODE"),
            engines.map { VersionRequest(value: $0, source: "package.json engines.node", line: pkg["engines"]?["node"]?.line) },
            app.firstLine(".nvmrc").map { VersionRequest(value: $0, source: ".nvmrc") },
            app.firstLine(".node-version").map { VersionRequest(value: $0, source: ".node-version") },
            app.toolVersion(["nodejs", "node"]).map { VersionRequest(value: $0, source: ".tool-versions") },
        ])

        var out = ProviderOutput()
        var setupCmds: [String]? = nil
        let install: [String]
        var caches: [String]
        let run: String
        let berry = pm == "yarn" && (app.has(".yarnrc.yml") || (pmVersion.map { !$0.hasPrefix("1") } ?? false))
        switch pm {
        case "pnpm":
            let major = pmVersion.flatMap { $0.split(separator: ".").first.map(String.init) } ?? "8"
            setupCmds = ["npm install -g pnpm@\(pmVersion ?? major)"]
            out.toolchains.append(Toolchain(name: "pnpm", requested: pmVersion, source: pmVersion != nil ? "package.json packageManager" : "default",
                                            version: pmVersion ?? major, packages: []))
            install = [app.has("pnpm-lock.yaml") ? "pnpm install --frozen-lockfile" : "pnpm install"]
            caches = ["/root/.local/share/pnpm/store"]
            run = "pnpm run"
        case "yarn" where berry:
            setupCmds = ["npm install -g corepack@0.29.4", "corepack enable"]
            out.toolchains.append(Toolchain(name: "yarn", requested: pmVersion, source: pmVersion != nil ? "package.json packageManager" : ".yarnrc.yml",
                                            version: pmVersion ?? "berry", packages: []))
            install = ["yarn install --immutable"]
            caches = ["/root/.yarn/berry/cache"]
            run = "yarn run"
        case "yarn":
            install = [app.has("yarn.lock") ? "yarnpkg install --frozen-lockfile" : "yarnpkg install"]
            out.toolchains.append(Toolchain(name: "yarn", requested: pmVersion, source: "debian", version: "1.22.19", packages: ["yarnpkg"]))
            caches = ["/root/.cache/yarn"]
            run = "yarnpkg run"
        default:
            install = [app.has("package-lock.json") || app.has("npm-shrinkwrap.json") ? "npm ci" : "npm install"]
            caches = ["/root/.npm"]
            run = "npm run"
        }
        out.toolchains.insert(toolchain, at: 0)
        var setup = setupPhase(out.toolchains)
        setup.cmds = setupCmds
        let isNext = pkg["dependencies"]?["next"] != nil || pkg["devDependencies"]?["next"] != nil
        let buildScript = ctx.config.string("buildScript") ?? (scripts?["build"] != nil ? "build" : nil)
        var phases: [String: PhaseConfig] = [
            "setup": setup,
            "install": PhaseConfig(dependsOn: ["setup"], cmds: install, cacheDirectories: caches,
                                   paths: ["/app/node_modules/.bin"]),
        ]
        if let buildScript {
            phases["build"] = PhaseConfig(dependsOn: ["install"], cmds: ["\(run) \(buildScript)"],
                                          cacheDirectories: isNext ? ["/app/.next/cache"] : ["/app/node_modules/.cache"])
        }
        out.phaseInputs["install"] = ctx.existing(["package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
                                                    "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc",
                                                    ".yarnrc.yml", ".pnpmfile.cjs"])
            + app.allFiles.filter { $0.hasPrefix(".yarn/releases/") || $0.hasPrefix("patches/") }
            + NodeLocalDependencies.directories(pkg, app: app)
        var start: String? = nil
        if let s = ctx.config.string("startScript") { start = "\(run) \(s)" }
        else if scripts?["start"] != nil { start = "\(run) start" }
        else if let main = pkg["main"]?.stringValue, app.has(main) { start = "node \(shellQuote(main))" }
        else if app.has("index.js") { start = "node index.js" }
        else if app.has("server.js") { start = "node server.js" }
        out.plan = BuildPlanConfig(variables: ["NODE_ENV": "production", "NPM_CONFIG_PRODUCTION": "false", "CI": "true"],
                                   phases: phases, start: StartConfig(cmd: start))
        out.runtimePackages = ["nodejs"]
        out.runtimePaths = ["/app/node_modules/.bin"]
        if isNext { out.writablePaths = [".next/cache"] }
        if isNext { out.notes.append(PlannerWarning("Next.js detected: the build cache is .next/cache")) }
        if try JSWorkspace.apply(to: &out, pkg: pkg, ctx: ctx, pm: pm, berry: berry) { return out }  // Workspaces/
        if let framework = try NodeFramework.detect(pkg, ctx: ctx) { framework.apply(to: &out, app: app) }
        return out
    }
}

struct PythonProvider: Provider {
    let name = "python"
    let triggers = ["requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "main.py", "app.py"]
    func detect(_ app: AppDirectory) -> String? { triggers.first(where: app.has) }

    /// Whether the project depends on `package` (requirements, pyproject, Pipfile, setup.py).
    static func dependsOn(_ package: String, _ app: AppDirectory) -> Bool {
        let name = package.lowercased()
        for file in ["requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "setup.cfg"] {
            guard let text = app.read(file)?.lowercased() else { continue }
            for line in text.split(whereSeparator: \.isNewline) {
                let t = line.trimmed(" \t\"',[")
                guard t.hasPrefix(name) else { continue }
                let next = t.dropFirst(name.count).first
                if next == nil || !(next!.isLetter || next!.isNumber || next! == "-" || next! == "_") { return true }
            }
        }
        return false
    }

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let pyproject = try app.toml("pyproject.toml")
        var pipfileVersion: VersionRequest? = nil
        if let pipfile = try app.toml("Pipfile"), let v = pipfile["requires"]?["python_version"]?.stringValue {
            pipfileVersion = VersionRequest(value: v, source: "Pipfile requires.python_version", line: pipfile["requires"]?["python_version"]?.line)
        }
        var runtimeTxt: VersionRequest? = nil
        if let line = app.firstLine("runtime.txt") {
            runtimeTxt = VersionRequest(value: line.replacingOccurrences(of: "python-", with: ""), source: "runtime.txt")
        }
        let requiresPython = pyproject?["project"]?["requires-python"]?.stringValue
            .map { VersionRequest(value: $0, source: "pyproject.toml project.requires-python", line: pyproject?["project"]?["requires-python"]?.line) }
        let poetryPython = pyproject?["tool"]?["poetry"]?["dependencies"]?["python"]?.stringValue
            .map { VersionRequest(value: $0, source: "pyproject.toml tool.poetry.dependencies.python", line: pyproject?["tool"]?["poetry"]?["dependencies"]?["python"]?.line) }
        let toolchain = try VersionResolver.resolve("python", requests: [
            ctx.versionOverride("PYTHON"), requiresPython, poetryPython, pipfileVersion,
            app.firstLine(".python-version").map { VersionRequest(value: $0, source: ".python-version") },
            runtimeTxt,
            app.toolVersion(["python"]).map { VersionRequest(value: $0, source: ".tool-versions") },
        ])

        var pm = ctx.config.string("packageManager")
        if pm == nil {
            if app.has("uv.lock") || pyproject?["tool"]?["uv"] != nil { pm = "uv" }
            else if app.has("poetry.lock") || pyproject?["tool"]?["poetry"] != nil { pm = "poetry" }
            else if app.has("pdm.lock") || pyproject?["tool"]?["pdm"] != nil { pm = "pdm" }
            else if app.has("Pipfile") { pm = "pipenv" }
            else if app.has("requirements.txt") { pm = "pip" }
            else if app.has("pyproject.toml") || app.has("setup.py") { pm = "pip-project" }
            else { pm = "none" }
        }
        let venv = "python3 -m venv /app/.venv"
        var extraApt: [String] = []
        var install: [String] = [venv]
        var inputs: [String]
        var caches = ["/root/.cache/pip"]
        switch pm! {
        case "uv":
            install += ["pip install uv==0.4.30", "uv sync --frozen --no-dev --no-install-project"]
            inputs = ["pyproject.toml", "uv.lock"]
            caches = ["/root/.cache/uv"]
        case "poetry":
            extraApt = ["python3-poetry"]
            install += ["poetry install --no-interaction --no-root --only main"]
            inputs = ["pyproject.toml", "poetry.lock"]
            caches.append("/root/.cache/pypoetry")
        case "pdm":
            extraApt = ["python3-pdm"]
            install += ["pdm install --prod --no-self --no-editable"]
            inputs = ["pyproject.toml", "pdm.lock"]
            caches.append("/root/.cache/pdm")
        case "pipenv":
            extraApt = ["pipenv"]
            install += [app.has("Pipfile.lock") ? "pipenv install --deploy" : "pipenv install --skip-lock"]
            inputs = ["Pipfile", "Pipfile.lock"]
        case "pip":
            install += ["pip install -r requirements.txt"]
            inputs = ["requirements.txt"]
        case "pip-project":
            install += ["pip install ."]
            inputs = ["."]
        default:
            inputs = []
        }

        // Framework and start command.
        let module = ctx.config.string("module")
        let entry = ["main.py", "app.py", "wsgi.py", "server.py"].first(where: app.has)
        let entryModule = entry.map { String($0.dropLast(3)) }
        var start: String? = nil
        var needsServer: String? = nil
        if app.has("manage.py") && Self.dependsOn("django", app) {
            let wsgi = module ?? Self.djangoWSGI(app)
            guard let wsgi else {
                throw PlannerError(.invalidValue, "Django project without WSGI_APPLICATION in a settings.py; set [config.python] module = \"project.wsgi\"",
                                   file: "manage.py", key: "config.python.module")
            }
            start = "python manage.py migrate && gunicorn \(wsgi):application --bind 0.0.0.0:${PORT:-8000}"
            needsServer = "gunicorn"
        } else if Self.dependsOn("fastapi", app), let m = module ?? entryModule.map({ "\($0):app" }) {
            start = "uvicorn \(m) --host 0.0.0.0 --port ${PORT:-8000}"
            needsServer = "uvicorn"
        } else if Self.dependsOn("flask", app), let m = module ?? entryModule.map({ "\($0):app" }) {
            start = "gunicorn --bind 0.0.0.0:${PORT:-8000} \(m)"
            needsServer = "gunicorn"
        } else if let entry {
            start = "python \(entry)"
        }
        if let server = ctx.config.string("server"), let m = module {
            switch server {
            case "gunicorn": start = "gunicorn --bind 0.0.0.0:${PORT:-8000} \(m)"; needsServer = "gunicorn"
            case "uvicorn": start = "uvicorn \(m) --host 0.0.0.0 --port ${PORT:-8000}"; needsServer = "uvicorn"
            default: start = "python -m \(m)"; needsServer = nil
            }
        }
        if let server = needsServer, !Self.dependsOn(server, app) {
            install.append("pip install \(server)")
        }
        var out = ProviderOutput()
        out.toolchains = [toolchain]
        var phases: [String: PhaseConfig] = [
            "setup": setupPhase([toolchain], extra: extraApt),
            "install": PhaseConfig(dependsOn: ["setup"], cmds: install, cacheDirectories: caches, paths: ["/app/.venv/bin"]),
        ]
        if app.has("manage.py") && Self.dependsOn("django", app) {
            phases["build"] = PhaseConfig(dependsOn: ["install"], cmds: ["python manage.py collectstatic --noinput"])
        }
        out.phaseInputs["install"] = inputs == ["."] ? ["."] : ctx.existing(inputs)
        out.plan = BuildPlanConfig(
            variables: ["PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "VIRTUAL_ENV": "/app/.venv",
                        "PIP_DISABLE_PIP_VERSION_CHECK": "1"] .merging(pm == "uv" ? ["UV_PROJECT_ENVIRONMENT": "/app/.venv"] : [:]) { a, _ in a },
            phases: phases, start: StartConfig(cmd: start))
        out.runtimePackages = ["python3"]
        out.runtimePaths = ["/app/.venv/bin"]
        return out
    }

    static func djangoWSGI(_ app: AppDirectory) -> String? {
        for file in app.allFiles where file.hasSuffix("settings.py") || file.contains("/settings/") {
            guard let text = app.read(file) else { continue }
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("WSGI_APPLICATION") {
                let value = line.split(separator: "=", maxSplits: 1).last.map { $0.trimmed(" \t\"'") } ?? ""
                if value.hasSuffix(".application") { return String(value.dropLast(".application".count)) }
            }
        }
        return nil
    }
}
