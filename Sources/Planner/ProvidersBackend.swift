import Foundation
import Yams

struct GoProvider: Provider {
    let name = "go"
    let triggers = ["go.mod", "go.work", "main.go"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        var modGo: VersionRequest? = nil
        var modToolchain: VersionRequest? = nil
        if let mod = app.read("go.mod") {
            for (index, line) in mod.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
                guard parts.count >= 2 else { continue }
                // Both are minimums: `go 1.23` (the language version) and `toolchain go1.23.4` (the preferred one).
                if parts[0] == "go" {
                    modGo = VersionRequest(value: ">=\(parts[1])", from: "go.mod", key: "go", line: index + 1)
                }
                if parts[0] == "toolchain", parts[1].hasPrefix("go") {
                    modToolchain = VersionRequest(
                        value: ">=\(parts[1].dropFirst(2))", from: "go.mod", key: "toolchain", line: index + 1)
                }
            }
        }
        let toolchain = try ctx.toolchain("go", idiomatic: [ctx.versionFiles.file(".go-version"), modToolchain, modGo])
        let target: String
        if let workspaceTarget = try GoWorkspace.target(ctx: ctx) {  // Workspaces/GoWorkspace.swift
            target = workspaceTarget
        } else if let bin = ctx.setting("GO_BIN") ?? ctx.config.string("bin") {
            guard app.hasDirectory("cmd/\(bin)") else {
                throw PlannerError(
                    .invalidValue, "cmd/\(bin) does not exist (GO_BIN / [config.go] bin)", key: "config.go.bin")
            }
            target = "./cmd/\(bin)"
        } else if app.has("main.go") {
            target = "."
        } else if let first = app.allFiles.compactMap({ f -> String? in
            let p = f.split(separator: "/")
            return p.count == 3 && p[0] == "cmd" && p[2].hasSuffix(".go") ? String(p[1]) : nil
        }).sorted().first {
            target = "./cmd/\(first)"
        } else {
            throw PlannerError(
                .invalidValue, "no main package found: expected main.go or cmd/<name>/*.go; set GO_BIN", file: "go.mod")
        }
        let cgo = ctx.config.bool("cgo") ?? false
        let buildCmd =
            app.has("go.mod") || app.has("go.work")
            ? "go build -ldflags=\"-w -s\" -o out \(target)" : "go build -ldflags=\"-w -s\" -o out main.go"
        // CGO_ENABLED=0 gives a static binary: the scratch runtime base (CA bundle and zoneinfo from the build
        // stage); the runtime packages are for a Debian runtime base chosen instead (start.runImage).
        return .recipe(
            [toolchain], setupExtra: cgo ? ["gcc", "libc6-dev"] : [],
            variables: ["CGO_ENABLED": cgo ? "1" : "0", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"],
            install: app.has("go.mod")
                ? RecipeStep(
                    cmds: ["go mod download"], caches: ["/root/go/pkg/mod"], inputs: ctx.existing(["go.mod", "go.sum"]))
                : nil,
            build: RecipeStep(cmds: [buildCmd], caches: ["/root/.cache/go-build"]),
            start: StartConfig(cmd: "./out", runImage: cgo ? nil : Debian.staticRuntimeImage), deploy: ["out"],
            runtimePackages: ["ca-certificates"] + (cgo ? ["libc6"] : []))
    }
}

struct RustProvider: Provider {
    let name = "rust"
    let triggers = ["Cargo.toml"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        guard let cargo = try app.toml("Cargo.toml") else { throw PlannerError(.io, "cannot read", file: "Cargo.toml") }
        var toolchainFile: VersionRequest? = nil
        if let tc = try app.toml("rust-toolchain.toml") {
            toolchainFile = VersionFiles.value(tc, ["toolchain", "channel"], file: "rust-toolchain.toml")
        } else {
            toolchainFile = ctx.versionFiles.file("rust-toolchain")
        }
        let rustVersion = VersionFiles.value(cargo, ["package", "rust-version"], file: "Cargo.toml") { ">=" + $0 }
        let toolchain = try ctx.toolchain("rust", idiomatic: [toolchainFile, rustVersion])
        let workspace = try CargoWorkspace.target(cargo, ctx: ctx)  // Workspaces/CargoWorkspace.swift
        let bin =
            workspace?.bin ?? ctx.setting("RUST_BIN") ?? ctx.config.string("bin")
            ?? cargo["bin"]?.arrayValue?.first?["name"]?.stringValue ?? cargo["package"]?["name"]?.stringValue
        guard let bin else {
            throw PlannerError(
                .invalidValue, "Cargo.toml has no [package] name or [[bin]]; set RUST_BIN", file: "Cargo.toml",
                key: "package.name")
        }
        // `CARGO_BUILD_TARGET` (set by the engine when it cross-compiles for another platform) puts the binary
        // under target/<triple>/; crates linking C libraries (`*-sys`) need the target's -dev packages, so such an
        // app keeps the plain path and a foreign platform is emulated.
        let release = Self.linksNativeLibraries(app.read("Cargo.lock")) ? "target/release" : Self.targetRelease
        return .recipe(
            [toolchain],
            build: RecipeStep(
                cmds: [
                    "mkdir -p bin",
                    "cargo build --release\(workspace.map { " -p \($0.package)" } ?? "") --bin \(bin)",
                    "cp \(release)/\(bin) bin/"
                ], caches: ["/root/.cargo/git", "/root/.cargo/registry", "/app/target"]),
            start: StartConfig(cmd: "./bin/\(bin)"), deploy: ["bin"], runtimePackages: ["ca-certificates"])
    }
}

extension RustProvider {
    /// Cargo's release directory, for the host or the `CARGO_BUILD_TARGET` triple.
    static let targetRelease = "target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"

    /// Whether Cargo.lock has a `*-sys` crate (bindings to a C library the target must provide).
    static func linksNativeLibraries(_ lock: String?) -> Bool {
        guard let lock else { return false }
        return lock.split(separator: "\n").contains { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("name = \"") && t.hasSuffix("-sys\"")
        }
    }
}

struct RubyProvider: Provider {
    let name = "ruby"
    let triggers = ["Gemfile"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let gemfile = app.read("Gemfile") ?? ""
        var gemfileRuby: VersionRequest? = nil
        for (index, line) in gemfile.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmed(" \t\r")
            guard t.hasPrefix("ruby ") || t.hasPrefix("ruby(") else { continue }
            let quoted = t.split(separator: "\"", omittingEmptySubsequences: false)
            let single = t.split(separator: "'", omittingEmptySubsequences: false)
            let value = quoted.count >= 3 ? quoted[1] : (single.count >= 3 ? single[1] : nil)
            if let value {
                gemfileRuby = VersionRequest(value: String(value), from: "Gemfile", key: "ruby", line: index + 1)
            }
        }
        var lockRuby: VersionRequest? = nil
        var bundledWith: VersionRequest? = nil
        if let lock = app.read("Gemfile.lock") {
            let lines = lock.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmed(" \r") }
            for (i, line) in lines.enumerated() where i + 1 < lines.count {
                if line == "RUBY VERSION", lines[i + 1].hasPrefix("ruby ") {
                    let v = lines[i + 1].dropFirst(5).split(separator: "p").first.map(String.init) ?? ""
                    lockRuby = VersionRequest(value: v, from: "Gemfile.lock", key: "RUBY VERSION", line: i + 2)
                }
                if line == "BUNDLED WITH", SemanticVersion(lines[i + 1]) != nil {
                    bundledWith = VersionRequest(
                        value: lines[i + 1], from: "Gemfile.lock", key: "BUNDLED WITH", line: i + 2)
                }
            }
        }
        let toolchain = try ctx.toolchain(
            "ruby",
            idiomatic: [
                ctx.versionFiles.file(".ruby-version") { $0.replacingOccurrences(of: "ruby-", with: "") }, gemfileRuby,
                lockRuby
            ])
        let has: (String) -> Bool = { gem in gemfile.contains("\"\(gem)\"") || gemfile.contains("'\(gem)'") }
        let rails = app.has("config/application.rb") || has("rails")
        var buildApt: [String] = []
        var runtime = toolchain.runtimePackages
        if has("pg") {
            buildApt.append("libpq-dev")
            runtime.append("libpq5")
        }
        if has("mysql2") {
            buildApt.append("default-libmysqlclient-dev")
            runtime.append("libmariadb3")
        }
        if has("sqlite3") {
            buildApt.append("libsqlite3-dev")
            runtime.append("libsqlite3-0")
        }
        if has("nokogiri") { buildApt.append("libxml2-dev") }
        var out = ProviderOutput()
        out.toolchains = [toolchain]
        var phases: [String: PhaseConfig] = [
            "setup": setupPhase([toolchain], extra: buildApt),
            "install": PhaseConfig(dependsOn: ["setup"], cmds: ["bundle install --jobs 4"])
        ]
        if let bundledWith {
            phases["setup"]!.cmds = ["gem install bundler -v \(shellQuote(bundledWith.value)) --no-document"]
            out.packageManagers = [
                PackageManager(name: "bundler", version: bundledWith.value, via: .rubygems, request: bundledWith.record)
            ]
        } else {
            out.packageManagers = [
                PackageManager(
                    name: "bundler", version: nil, via: toolchain.source == .debian ? .debian : .bundled, request: nil)
            ]
        }
        out.phaseInputs["install"] = ctx.existing(["Gemfile", "Gemfile.lock", ".ruby-version"])
        var start: String? = nil
        var variables = [
            "BUNDLE_PATH": "/app/vendor/bundle", "BUNDLE_WITHOUT": "development:test",
            "BUNDLE_DEPLOYMENT": app.has("Gemfile.lock") ? "1" : "0"
        ]
        if rails {
            variables["RAILS_ENV"] = "production"
            variables["RAILS_LOG_TO_STDOUT"] = "enabled"
            variables["RAILS_SERVE_STATIC_FILES"] = "true"
            if app.hasDirectory("app/assets") || app.hasDirectory("app/javascript") {
                phases["build"] = PhaseConfig(
                    dependsOn: ["install"], cmds: ["SECRET_KEY_BASE_DUMMY=1 bundle exec rails assets:precompile"])
            }
            start = "bundle exec rails server -b 0.0.0.0 -p ${PORT:-3000}"
        } else if app.has("config.ru") {
            start = "bundle exec rackup config.ru -o 0.0.0.0 -p ${PORT:-9292}"
        } else if app.has("Rakefile") {
            start = "bundle exec rake"
        }
        out.plan = BuildPlanConfig(variables: variables, phases: phases, start: StartConfig(cmd: start))
        // Debian's `bundle` is in the bundler package, not in ruby.
        if toolchain.source == .debian, start?.hasPrefix("bundle ") == true { runtime.append("bundler") }
        out.runtimePackages = runtime
        out.runtimePaths = ["/app/bin"]
        // Rails writes logs, caches, pids, Active Storage files and (SQLite) databases under these.
        if rails { out.writablePaths = ["db", "log", "storage", "tmp"] }
        return out
    }
}

struct PHPProvider: Provider {
    let name = "php"
    let triggers = ["composer.json", "index.php"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let composer = try app.json("composer.json")
        let toolchain = try ctx.toolchain(
            "php", idiomatic: [VersionFiles.value(composer, ["require", "php"], file: "composer.json")])
        let (exts, unknownExts) = PHPServer.extensions(composer)
        let root =
            ctx.setting("PHP_ROOT_DIR") ?? ctx.config.string("rootDir") ?? (app.hasDirectory("public") ? "public" : ".")
        if root.hasPrefix("/") || root.split(separator: "/").contains("..") {
            throw PlannerError(
                .invalidValue, "the document root \"\(root)\" must be a relative path inside the app",
                key: "config.php.rootDir")
        }
        var out = ProviderOutput()
        out.toolchains = [toolchain]
        var phases: [String: PhaseConfig] = ["setup": setupPhase([toolchain], extra: exts)]
        if composer != nil {
            phases["install"] = PhaseConfig(
                dependsOn: ["setup"],
                cmds: ["composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader --no-scripts"],
                cacheDirectories: ["/root/.cache/composer"])
            out.phaseInputs["install"] = ctx.existing(["composer.json", "composer.lock"])
        }
        // nginx + php-fpm (Providers/PHPServer.swift); Laravel's caches at build time, its writable dirs.
        let laravel = app.has("artisan")
        if laravel {
            phases["build"] = PhaseConfig(
                dependsOn: [composer != nil ? "install" : "setup"], cmds: PHPServer.laravelBuild)
            out.writablePaths = PHPServer.laravelWritable
        }
        let docroot = root == "." ? "/app" : "/app/" + root
        out.plan = BuildPlanConfig(
            variables: laravel ? ["APP_ENV": "production", "LOG_CHANNEL": "stderr"] : [:],
            staticAssets: [
                "php-start.sh": PHPServer.startScript, "nginx.conf": PHPServer.nginxConf(documentRoot: docroot),
                "php-fpm.conf": PHPServer.fpmConf
            ],
            phases: phases, start: StartConfig(cmd: PHPServer.startCommand))
        out.runtimePackages = ["nginx", "php-fpm"] + (laravel ? ["php-cli"] : []) + exts  // artisan at runtime
        out.runtimeVariables["PORT"] = PHPServer.port
        for ext in unknownExts {
            out.notes.append(
                PlannerWarning(
                    "composer.json requires ext-\(ext), which has no known Debian package: add it with aptPkgs or [build.packages] runtime",
                    file: "composer.json", key: "require.ext-\(ext)"))
        }
        return out
    }
}

struct JavaProvider: Provider {
    let name = "java"
    let triggers = ["pom.xml", "gradlew", "build.gradle", "build.gradle.kts"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let maven = ctx.config.string("buildTool").map { $0 == "maven" } ?? app.has("pom.xml")
        var manifest: VersionRequest? = nil
        if maven, let pom = app.read("pom.xml") {
            for tag in ["maven.compiler.release", "java.version", "maven.compiler.source"] {
                if let r = pom.range(of: "<\(tag)>"), let e = pom[r.upperBound...].range(of: "</\(tag)>") {
                    let v = pom[r.upperBound..<e.lowerBound].trimmed(" \n\t").replacingOccurrences(of: "1.", with: "")
                    let line = pom[..<r.lowerBound].filter { $0 == "\n" }.count + 1
                    manifest = VersionRequest(value: ">=\(v)", from: "pom.xml", key: "<\(tag)>", line: line)
                    break
                }
            }
        }
        let toolchain = try ctx.toolchain(
            "java",
            idiomatic: [
                ctx.versionFiles.file(".java-version") { VersionFiles.normalize("java", $0) },
                Self.sdkmanrc(ctx.app), manifest
            ])
        if maven {
            let mvn = app.has("mvnw") ? "chmod +x mvnw && ./mvnw" : "mvn"
            var tools = [toolchain]
            if !app.has("mvnw") { tools.append(try ctx.toolchain("maven", providerConfig: false)) }
            return .recipe(
                tools, build: RecipeStep(cmds: ["\(mvn) -B -DskipTests install"], caches: ["/root/.m2"]),
                start: StartConfig(
                    cmd:
                        "java $JAVA_OPTS -jar $(ls -1 target/*.jar | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -n 1)"
                ), deploy: ["target"], runtimePackages: toolchain.runtimePackages)
        } else {
            guard app.has("gradlew") else {
                throw PlannerError(
                    .unsupportedToolchain,
                    "Debian ships Gradle 4.4.1 only, too old for current builds; commit the Gradle wrapper (gradlew and gradle/wrapper/)",
                    file: app.has("build.gradle.kts") ? "build.gradle.kts" : "build.gradle")
            }
            return .recipe(
                [toolchain],
                build: RecipeStep(
                    cmds: ["chmod +x gradlew", "./gradlew build -x test --no-daemon"], caches: ["/root/.gradle"]),
                start: StartConfig(
                    cmd: "java $JAVA_OPTS -jar $(ls -1 build/libs/*.jar | grep -v -e '-plain.jar$' | head -n 1)"),
                deploy: ["build/libs"], runtimePackages: toolchain.runtimePackages)
        }
    }
}

extension JavaProvider {
    /// `.sdkmanrc`: `java=21.0.2-tem`.
    static func sdkmanrc(_ app: AppDirectory) -> VersionRequest? {
        guard let text = app.read(".sdkmanrc") else { return nil }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.hasPrefix("java=") {
            let v = line.dropFirst(5).split(separator: "-").first.map(String.init) ?? ""
            return VersionRequest(value: v, from: ".sdkmanrc", key: "java", line: i + 1)
        }
        return nil
    }
}

struct ElixirProvider: Provider {
    let name = "elixir"
    let triggers = ["mix.exs"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let mix = app.read("mix.exs") ?? ""
        var manifest: VersionRequest? = nil
        if let r = mix.range(of: "elixir: \""), let e = mix[r.upperBound...].firstIndex(of: "\"") {
            manifest = VersionRequest(
                value: String(mix[r.upperBound..<e]), from: "mix.exs", key: "elixir",
                line: mix[..<r.lowerBound].filter { $0 == "\n" }.count + 1)
        }
        var appName: String? = nil
        if let r = mix.range(of: "app: :") {
            appName = String(mix[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        }
        guard let appName, !appName.isEmpty else {
            throw PlannerError(
                .invalidValue, "mix.exs has no `app: :name` in project/0", file: "mix.exs", key: "project.app")
        }
        let toolchain = try ctx.toolchain("elixir", idiomatic: [manifest])
        var build = ["mix compile"]
        if app.hasDirectory("assets") && mix.contains("assets.deploy") { build.append("mix assets.deploy") }
        build.append("mix release --overwrite")
        return .recipe(
            [toolchain], variables: ["MIX_ENV": "prod", "LANG": "C.UTF-8"],
            install: RecipeStep(
                cmds: ["mix local.hex --force", "mix local.rebar --force", "mix deps.get --only prod"],
                caches: ["/root/.hex", "/root/.mix"],
                inputs: ctx.existing(["mix.exs", "mix.lock"]) + app.allFiles.filter { $0.hasPrefix("config/") }),
            build: RecipeStep(cmds: build, caches: ["/app/_build"]),
            start: StartConfig(cmd: "_build/prod/rel/\(appName)/bin/\(appName) start"),
            deploy: ["_build/prod/rel/\(appName)"], runtimePackages: ["libssl3", "libncurses6", "libstdc++6"])
    }
}

struct ClojureProvider: Provider {
    let name = "clojure"
    let triggers = ["project.clj", "deps.edn"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let toolchain = try ctx.toolchain("clojure")
        if app.has("project.clj") {
            return .recipe(
                [toolchain], install: RecipeStep(cmds: ["lein deps"], caches: ["/root/.m2"], inputs: ["project.clj"]),
                build: RecipeStep(cmds: [
                    "lein uberjar",
                    "cp $(ls -1 target/uberjar/*-standalone.jar target/*-standalone.jar 2>/dev/null | head -n 1) app-standalone.jar"
                ]), start: StartConfig(cmd: "java $JAVA_OPTS -jar app-standalone.jar"), deploy: ["app-standalone.jar"],
                runtimePackages: toolchain.runtimePackages)
        } else {
            guard let main = ctx.config.string("main") else {
                throw PlannerError(
                    .invalidValue,
                    "a deps.edn project needs its main namespace: set [config.clojure] main = \"my.app.core\"",
                    file: "deps.edn", key: "config.clojure.main")
            }
            return .recipe(
                [toolchain], install: RecipeStep(cmds: ["clojure -P"], caches: ["/root/.m2"], inputs: ["deps.edn"]),
                start: StartConfig(cmd: "clojure -M -m \(main)"),
                runtimePackages: ["clojure"] + toolchain.runtimePackages)
        }
    }
}

struct HaskellProvider: Provider {
    let name = "haskell"
    let triggers = ["*.cabal", "stack.yaml", "package.yaml"]
    func detect(_ app: AppDirectory) -> String? {
        app.topLevelFiles.first { $0.hasSuffix(".cabal") } ?? ["stack.yaml", "package.yaml"].first(where: app.has)
    }

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        guard let cabalFile = app.topLevelFiles.first(where: { $0.hasSuffix(".cabal") }) else {
            throw PlannerError(
                .unsupportedToolchain,
                "only cabal builds are supported with Debian's GHC (Stack is not usable offline-pinned); commit the generated .cabal file",
                file: detect(app))
        }
        let text = app.read(cabalFile) ?? ""
        var exe: String? = nil
        for line in text.split(whereSeparator: \.isNewline) where line.lowercased().hasPrefix("executable ") {
            exe = line.split(separator: " ").dropFirst().first.map(String.init)
            break
        }
        guard let exe else {
            throw PlannerError(
                .invalidValue, "no `executable` section in \(cabalFile)", file: cabalFile, key: "executable")
        }
        // `base` bounds constrain GHC only indirectly; cabal reports such conflicts itself.
        let toolchain = try ctx.toolchain("haskell")
        return .recipe(
            [toolchain],
            install: RecipeStep(
                cmds: ["cabal update", "cabal build --only-dependencies"],
                caches: ["/root/.cabal/packages", "/root/.cabal/store"],
                inputs: [cabalFile] + ctx.existing(["cabal.project", "cabal.project.freeze"])),
            build: RecipeStep(cmds: [
                "mkdir -p bin",
                "cabal install exe:\(exe) --installdir=bin --install-method=copy --overwrite-policy=always"
            ]), start: StartConfig(cmd: "./bin/\(exe)"), deploy: ["bin"], runtimePackages: toolchain.runtimePackages)
    }
}

struct CrystalProvider: Provider {
    let name = "crystal"
    let triggers = ["shard.yml"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let text = app.read("shard.yml") ?? ""
        let yaml: Any?
        do { yaml = try Yams.load(yaml: text) } catch let e as YamlError {
            var line: Int? = nil
            if case let .scanner(_, _, mark, _) = e { line = mark.line }
            if case let .parser(_, _, mark, _) = e { line = mark.line }
            throw PlannerError(.syntax, "invalid YAML", file: "shard.yml", line: line, cause: e)
        } catch { throw PlannerError(.syntax, "invalid YAML", file: "shard.yml", cause: error) }
        let doc = yaml as? [String: Any] ?? [:]
        let hasDependencies = !((doc["dependencies"] as? [String: Any]) ?? [:]).isEmpty
        if hasDependencies && ctx.suite.missing.contains("shards") {
            throw PlannerError(
                .unsupportedToolchain,
                "shards (Crystal dependencies) is not packaged for Debian \(ctx.suite.name) (needed because shard.yml declares dependencies); "
                    + "build on Debian trixie (--base debian:trixie or [build] base), or use a Dockerfile",
                file: "shard.yml", key: "dependencies")
        }
        let targets = doc["targets"] as? [String: Any] ?? [:]
        guard let name = targets.keys.sorted().first, let main = (targets[name] as? [String: Any])?["main"] as? String
        else {
            throw PlannerError(
                .invalidValue, "shard.yml needs a target: targets: <name>: main: src/<name>.cr", file: "shard.yml",
                key: "targets")
        }
        let request = (doc["crystal"] as? String).map {
            VersionRequest(
                value: $0.hasPrefix(">") || $0.hasPrefix("~") ? $0 : ">=" + $0, from: "shard.yml", key: "crystal")
        }
        let toolchain = try ctx.toolchain("crystal", idiomatic: [request])
        return .recipe(
            [toolchain],
            install: hasDependencies
                ? RecipeStep(
                    cmds: ["shards install --production"], caches: ["/root/.cache/shards"],
                    inputs: ctx.existing(["shard.yml", "shard.lock"])) : nil,
            build: RecipeStep(
                cmds: ["mkdir -p bin", "crystal build --release \(shellQuote(main)) -o bin/\(name)"],
                caches: ["/root/.cache/crystal"]),
            start: StartConfig(cmd: "./bin/\(name)"), deploy: ["bin"], runtimePackages: toolchain.runtimePackages)
    }
}

struct CobolProvider: Provider {
    let name = "cobol"
    let triggers = ["*.cbl", "*.cob"]
    func detect(_ app: AppDirectory) -> String? {
        app.allFiles.first { ($0.hasSuffix(".cbl") || $0.hasSuffix(".cob")) && $0.split(separator: "/").count <= 2 }
    }

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let sources = app.allFiles.filter {
            ($0.hasSuffix(".cbl") || $0.hasSuffix(".cob")) && $0.split(separator: "/").count <= 2
        }
        let main: String
        if let m = ctx.setting("COBOL_APP_NAME") ?? ctx.config.string("main") {
            guard
                let found = sources.first(where: {
                    $0 == m || $0.hasSuffix("/\(m)") || $0.hasPrefix(m + ".") || $0.contains("/\(m).")
                })
            else {
                throw PlannerError(
                    .invalidValue, "no COBOL source \(m) (found \(sources.joined(separator: ", ")))",
                    key: "config.cobol.main")
            }
            main = found
        } else if sources.count == 1 {
            main = sources[0]
        } else if let index = sources.first(where: { $0.hasSuffix("index.cbl") }) {
            main = index
        } else {
            throw PlannerError(
                .invalidValue,
                "several COBOL sources (\(sources.joined(separator: ", "))); set [config.cobol] main or COBOL_APP_NAME",
                key: "config.cobol.main")
        }
        let name = String(main.split(separator: "/").last!.split(separator: ".").first!)
        let toolchain = try ctx.toolchain("cobol")
        return .recipe(
            [toolchain], build: RecipeStep(cmds: ["mkdir -p bin", "cobc -x -free -o bin/\(name) \(shellQuote(main))"]),
            start: StartConfig(cmd: "./bin/\(name)"), deploy: ["bin"], runtimePackages: toolchain.runtimePackages)
    }
}

struct StaticfileProvider: Provider {
    let name = "staticfile"
    let triggers = ["Staticfile", "index.html", "public/index.html"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        var staticfileRoot: String? = nil
        if let text = app.read("Staticfile") {
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("root:") {
                staticfileRoot = line.dropFirst(5).trimmed(" \t\"'")
            }
        }
        let spaDir = ctx.setting("SPA_OUT_DIR")
        let root =
            ctx.setting("STATICFILE_ROOT") ?? spaDir ?? ctx.config.string("root") ?? staticfileRoot
            ?? (app.has("index.html") ? "." : (app.has("public/index.html") ? "public" : "."))
        if root.hasPrefix("/") || root.split(separator: "/").contains("..") {
            throw PlannerError(
                .invalidValue, "the static root must be a relative path inside the app", key: "config.staticfile.root")
        }
        let spa = spaDir != nil || (ctx.config.bool("spa") ?? false)
        var out = ProviderOutput()
        out.plan = BuildPlanConfig(phases: [:], start: StartConfig())
        StaticSite(framework: .staticfile, root: root, spa: spa).apply(to: &out, app: app)
        return out
    }
}

struct ShellProvider: Provider {
    let name = "shell"
    let triggers = ["start.sh"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let script = ctx.setting("SHELL_SCRIPT") ?? ctx.config.string("script") ?? "start.sh"
        guard ctx.app.has(script) else {
            throw PlannerError(.invalidValue, "\(script) does not exist", key: "config.shell.script")
        }
        var interpreter = "sh"
        var apt: [String] = []
        if let first = ctx.app.read(script)?.split(separator: "\n").first, first.hasPrefix("#!") {
            let words = first.dropFirst(2).split(separator: " ").map(String.init)
            let prog =
                (words.first?.hasSuffix("/env") == true ? words.dropFirst().first : words.first).map {
                    String($0.split(separator: "/").last!)
                } ?? "sh"
            interpreter = prog
            if ["bash", "zsh", "dash", "ksh"].contains(prog) && prog != "bash" && prog != "dash" { apt.append(prog) }
        }
        var out = ProviderOutput()
        out.plan = BuildPlanConfig(phases: [:], start: StartConfig(cmd: "\(interpreter) \(shellQuote(script))"))
        out.runtimePackages = apt
        return out
    }
}
