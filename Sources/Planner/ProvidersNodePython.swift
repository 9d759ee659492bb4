import Foundation

struct NodeProvider: Provider {
    let name = "node"
    let triggers = ["package.json"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        guard let pkg = try app.json("package.json") else {
            throw PlannerError(.io, "cannot read", file: "package.json")
        }
        guard case .table = pkg.value else {
            throw PlannerError(.type, "package.json must be a JSON object", file: "package.json", line: pkg.line)
        }
        let scripts = pkg["scripts"]
        let manager = try Self.packageManager(ctx, pkg)
        if manager.name == "bun" { return try BunPlanner.plan(ctx, pkg: pkg, manager: manager) }
        let toolchain = try ctx.toolchain(
            "node",
            idiomatic: [
                Self.devEnginesRuntime(pkg),
                VersionFiles.value(pkg, ["engines", "node"], file: "package.json"),
                ctx.versionFiles.file(".nvmrc"),
                ctx.versionFiles.file(".node-version")
            ])

        var out = ProviderOutput()
        out.toolchains = [toolchain]
        var setupCmds: [String]? = nil
        let install: [String]
        let caches: [String]
        let run: String
        let debianYarn = ctx.suite.standard("yarn")
        switch manager.name {
        case "pnpm",
            "yarn" where manager.berry || debianYarn.map({ !$0.version.hasPrefix("1.") }) ?? true:
            let version =
                manager.version
                ?? (manager.name == "pnpm" ? Self.pnpmFromLock(app) : (manager.berry ? "stable" : "1.22.22"))
            setupCmds = [
                "npm install -g corepack@\(Self.corepackVersion)", "corepack enable \(manager.name)",
                "corepack install -g \(manager.name)@\(version)"
            ]
            out.packageManagers.append(
                PackageManager(name: manager.name, version: version, via: .corepack, request: manager.request))
            if manager.name == "pnpm" {
                install = [app.has("pnpm-lock.yaml") ? "pnpm install --frozen-lockfile" : "pnpm install"]
                caches = ["/root/.local/share/pnpm/store"]
                run = "pnpm run"
            } else if manager.berry {
                install = ["yarn install --immutable"]
                caches = ["/root/.yarn/berry/cache"]
                run = "yarn run"
            } else {
                install = [app.has("yarn.lock") ? "yarn install --frozen-lockfile" : "yarn install"]
                caches = ["/root/.cache/yarn"]
                run = "yarn run"
            }
        case "yarn":
            install = [app.has("yarn.lock") ? "yarnpkg install --frozen-lockfile" : "yarnpkg install"]
            out.packageManagers.append(
                PackageManager(name: "yarn", version: debianYarn?.version, via: .debian, request: manager.request))
            out.extraSetupPackages = debianYarn?.buildPackages ?? []
            caches = ["/root/.cache/yarn"]
            run = "yarnpkg run"
        default:
            install = [app.has("package-lock.json") || app.has("npm-shrinkwrap.json") ? "npm ci" : "npm install"]
            out.packageManagers.append(
                PackageManager(
                    name: "npm", version: manager.version,
                    via: toolchain.source == .debian ? .debian : .bundled, request: manager.request))
            caches = ["/root/.npm"]
            run = "npm run"
        }
        var setup = setupPhase(out.toolchains, extra: out.extraSetupPackages)
        setup.cmds = setupCmds
        let isNext = pkg["dependencies"]?["next"] != nil || pkg["devDependencies"]?["next"] != nil
        let buildScript = ctx.config.string("buildScript") ?? (scripts?["build"] != nil ? "build" : nil)
        var phases: [String: PhaseConfig] = [
            "setup": setup,
            "install": PhaseConfig(
                dependsOn: ["setup"], cmds: install, cacheDirectories: caches,
                paths: ["/app/node_modules/.bin"])
        ]
        if let buildScript {
            phases["build"] = PhaseConfig(
                dependsOn: ["install"], cmds: ["\(run) \(buildScript)"],
                cacheDirectories: isNext ? ["/app/.next/cache"] : ["/app/node_modules/.cache"])
        }
        out.phaseInputs["install"] =
            ctx.existing([
                "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
                "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc",
                ".yarnrc.yml", ".pnpmfile.cjs"
            ])
            + app.allFiles.filter { $0.hasPrefix(".yarn/releases/") || $0.hasPrefix("patches/") }
            + NodeLocalDependencies.directories(pkg, app: app)
        // The runtime image has node (and npm) but not corepack's shims: start scripts run through npm, or through
        // the committed yarn release (`yarnPath`) for Yarn Berry.
        var startRun = run
        if setupCmds != nil {
            startRun = manager.berry ? Self.yarnPath(app).map { "node \(shellQuote($0)) run" } ?? "npm run" : "npm run"
        }
        var start: String? = nil
        if let s = ctx.config.string("startScript") {
            start = "\(startRun) \(s)"
        } else if scripts?["start"] != nil {
            start = "\(startRun) start"
        } else if let main = pkg["main"]?.stringValue, app.has(main) {
            start = "node \(shellQuote(main))"
        } else if app.has("index.js") {
            start = "node index.js"
        } else if app.has("server.js") {
            start = "node server.js"
        }
        var variables = ["NODE_ENV": "production", "NPM_CONFIG_PRODUCTION": "false", "CI": "true"]
        if setupCmds != nil { variables["COREPACK_ENABLE_DOWNLOAD_PROMPT"] = "0" }
        out.plan = BuildPlanConfig(
            variables: variables,
            phases: phases, start: StartConfig(cmd: start))
        out.runtimePackages = toolchain.runtimePackages
        // Debian splits npm from nodejs: a start script run through npm needs it at runtime too.
        if toolchain.source == .debian, start?.hasPrefix("npm ") == true { out.runtimePackages.append("npm") }
        out.runtimePaths = ["/app/node_modules/.bin"]
        if isNext { out.writablePaths = [".next/cache"] }
        if isNext { out.notes.append(PlannerWarning("Next.js detected: the build cache is .next/cache")) }
        // Workspaces/
        if try JSWorkspace.apply(to: &out, pkg: pkg, ctx: ctx, pm: manager.name, berry: manager.berry) { return out }
        if let framework = try NodeFramework.detect(pkg, ctx: ctx) { framework.apply(to: &out, app: app) }
        return out
    }
}

struct PythonProvider: Provider {
    let name = "python"
    let triggers = ["requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "main.py", "app.py"]

    /// Whether the project depends on `package` (requirements, pyproject, Pipfile, setup.py).
    /// `package` among the app's dependencies (in `directory`'s manifests when given: a workspace member).
    static func dependsOn(_ package: String, _ app: AppDirectory, in directory: String = "") -> Bool {
        let name = package.lowercased()
        for file in ["requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "setup.cfg"] {
            guard let text = app.read(directory.isEmpty ? file : directory + "/" + file)?.lowercased() else { continue }
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
        let pipfile = try app.toml("Pipfile")
        let toolchain = try ctx.toolchain(
            "python",
            idiomatic: [
                ctx.versionFiles.file(".python-version"),
                ctx.versionFiles.file("runtime.txt") { $0.replacingOccurrences(of: "python-", with: "") },
                VersionFiles.value(pipfile, ["requires", "python_version"], file: "Pipfile"),
                VersionFiles.value(pipfile, ["requires", "python_full_version"], file: "Pipfile"),
                VersionFiles.value(pyproject, ["project", "requires-python"], file: "pyproject.toml"),
                VersionFiles.value(pyproject, ["tool", "poetry", "dependencies", "python"], file: "pyproject.toml")
            ])

        var pm = ctx.config.string("packageManager")
        if pm == nil {
            if app.has("uv.lock") || pyproject?["tool"]?["uv"] != nil {
                pm = "uv"
            } else if app.has("poetry.lock") || pyproject?["tool"]?["poetry"] != nil {
                pm = "poetry"
            } else if app.has("pdm.lock") || pyproject?["tool"]?["pdm"] != nil {
                pm = "pdm"
            } else if app.has("Pipfile") {
                pm = "pipenv"
            } else if app.has("requirements.txt") {
                pm = "pip"
            } else if app.has("pyproject.toml") || app.has("setup.py") {
                pm = "pip-project"
            } else {
                pm = "none"
            }
        }
        let venv = "python3 -m venv /app/.venv"
        // [uv workspace] The member to build and start (Workspaces/UVWorkspace.swift).
        let uvMember = pm == "uv" ? try UVWorkspace.target(pyproject, ctx: ctx) : nil
        var extraApt: [String] = []
        var install: [String] = ["uv", "poetry", "pdm", "pipenv"].contains(pm!) ? [] : [venv]
        var inputs: [String]
        var caches = ["/root/.cache/pip"]
        var managers: [PackageManager] = []
        var toolPaths: [String] = []
        switch pm! {
        case "uv":
            let spec = PythonTools.requirement("uv", pyproject: pyproject, app: app)
            install = [
                "python3 -m venv /opt/uv",
                "/opt/uv/bin/pip install \(shellQuote("uv" + (spec?.pip ?? "==\(PythonTools.uvDefault)")))", venv,
                uvMember.map { UVWorkspace.installCommands($0).install }
                    ?? "uv sync --frozen --no-dev --no-install-project"
            ]
            managers.append(
                PackageManager(
                    name: "uv", version: spec?.version ?? PythonTools.uvDefault, via: .pypi, request: spec?.request))
            toolPaths = ["/opt/uv/bin"]
            inputs = (uvMember?.manifests ?? ["pyproject.toml"]) + ["uv.lock"]
            caches = ["/root/.cache/uv"]
        case "poetry", "pdm", "pipenv":
            let tool = pm!
            if let spec = PythonTools.requirement(tool, pyproject: pyproject, app: app) {
                install = [
                    "python3 -m venv /opt/\(tool)", "/opt/\(tool)/bin/pip install \(shellQuote(tool + spec.pip))", venv
                ]
                managers.append(PackageManager(name: tool, version: spec.version, via: .pypi, request: spec.request))
                toolPaths = ["/opt/\(tool)/bin"]
            } else {
                extraApt = [PythonTools.debianPackage[tool]!]
                managers.append(PackageManager(name: tool, version: nil, via: .debian, request: nil))
            }
            switch tool {
            case "poetry":
                install += ["poetry install --no-interaction --no-root --only main"]
                inputs = ["pyproject.toml", "poetry.lock"]
                caches.append("/root/.cache/pypoetry")
            case "pdm":
                install += ["pdm install --prod --no-self --no-editable"]
                inputs = ["pyproject.toml", "pdm.lock"]
                caches.append("/root/.cache/pdm")
            default:
                install += [app.has("Pipfile.lock") ? "pipenv install --deploy" : "pipenv install --skip-lock"]
                inputs = ["Pipfile", "Pipfile.lock"]
            }
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
                throw PlannerError(
                    .invalidValue,
                    "Django project without WSGI_APPLICATION in a settings.py; set [config.python] module = \"project.wsgi\"",
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
            case "gunicorn":
                start = "gunicorn --bind 0.0.0.0:${PORT:-8000} \(m)"
                needsServer = "gunicorn"
            case "uvicorn":
                start = "uvicorn \(m) --host 0.0.0.0 --port ${PORT:-8000}"
                needsServer = "uvicorn"
            default:
                start = "python -m \(m)"
                needsServer = nil
            }
        }
        if let member = uvMember {
            (start, needsServer) = Self.uvMemberStart(member, app: app, module: module)
        }
        if let server = needsServer, !Self.dependsOn(server, app),
            !(uvMember.map { $0.dependencies.contains(server) || Self.dependsOn(server, app, in: $0.member) } ?? false)
        {
            install.append("pip install \(server)")
        }
        var out = ProviderOutput()
        out.toolchains = [toolchain]
        out.packageManagers = managers
        var phases: [String: PhaseConfig] = [
            "setup": setupPhase([toolchain], extra: extraApt),
            "install": PhaseConfig(
                dependsOn: ["setup"], cmds: install, cacheDirectories: caches, paths: toolPaths + ["/app/.venv/bin"])
        ]
        if app.has("manage.py") && Self.dependsOn("django", app) {
            phases["build"] = PhaseConfig(dependsOn: ["install"], cmds: ["python manage.py collectstatic --noinput"])
        }
        if let member = uvMember {
            phases["build"] = PhaseConfig(
                dependsOn: ["install"], cmds: [UVWorkspace.installCommands(member).build], cacheDirectories: caches,
                paths: toolPaths)
        }
        out.phaseInputs["install"] = inputs == ["."] ? ["."] : ctx.existing(inputs)
        out.plan = BuildPlanConfig(
            variables: [
                "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "VIRTUAL_ENV": "/app/.venv",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"
            ].merging(pm == "uv" ? ["UV_PROJECT_ENVIRONMENT": "/app/.venv"] : [:]) { a, _ in a },
            phases: phases, start: StartConfig(cmd: start))
        out.runtimePackages = toolchain.runtimePackages
        out.runtimePaths = ["/app/.venv/bin"]
        return out
    }

    /// A uv workspace member's start command: its flask/fastapi app served from the member directory, else its
    /// first script, else its entry file.
    static func uvMemberStart(_ m: UVWorkspace.Target, app: AppDirectory, module: String?) -> (String?, String?) {
        let dir = m.member.isEmpty ? "." : m.member
        if let entry = m.entry, let mod = module ?? Optional(String(entry.dropLast(3)) + ":app") {
            if m.dependencies.contains("fastapi") || dependsOn("fastapi", app, in: m.member) {
                return ("uvicorn \(mod) --app-dir \(shellQuote(dir)) --host 0.0.0.0 --port ${PORT:-8000}", "uvicorn")
            }
            if m.dependencies.contains("flask") || dependsOn("flask", app, in: m.member) {
                return ("gunicorn --chdir \(shellQuote(dir)) --bind 0.0.0.0:${PORT:-8000} \(mod)", "gunicorn")
            }
        }
        if let script = m.script { return (script, nil) }
        return (m.entry.map { "python \(shellQuote(m.path($0)))" }, nil)
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
