import Foundation
import Yams

/// Providers whose toolchain Debian does not package: the toolchain comes from its upstream channel (the engine
/// installs it; it is on PATH in the build steps and, when `runtime` says so, in the runtime image).

struct DenoProvider: Provider {
    let name = "deno"
    let triggers = ["deno.json", "deno.jsonc", "deno.lock"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let config = app.has("deno.json") ? try app.json("deno.json") : nil
        let hasStartTask =
            config?["tasks"]?["start"] != nil
            || (app.read("deno.jsonc").map { $0.contains("\"start\"") } ?? false)
        let deno = try ctx.toolchain("deno", idiomatic: [ctx.versionFiles.file(".deno-version")])
        let entry = ["main.ts", "mod.ts", "server.ts", "index.ts", "src/main.ts", "main.js", "index.js"].first(
            where: app.has)
        guard hasStartTask || entry != nil else {
            throw PlannerError(
                .invalidValue,
                "no start task in deno.json and no main.ts / mod.ts / server.ts / index.ts; add `\"tasks\": {\"start\": ...}`",
                file: detect(app), key: "tasks.start")
        }
        return .recipe(
            [deno], variables: ["DENO_DIR": "/app/.deno", "DENO_NO_UPDATE_CHECK": "1"],
            install: RecipeStep(cmds: [entry.map { "deno cache \(shellQuote($0))" } ?? "deno install"]),
            start: StartConfig(cmd: hasStartTask ? "deno task start" : "deno run --allow-all \(shellQuote(entry!))"))
    }
}

struct DotnetProvider: Provider {
    let name = "dotnet"
    let triggers = ["*.csproj", "*.fsproj", "*.sln"]
    func detect(_ app: AppDirectory) -> String? {
        Self.project(app) ?? app.topLevelFiles.first { $0.hasSuffix(".sln") }
    }

    /// The project to publish: the first .csproj/.fsproj at the top level, else one directory down.
    static func project(_ app: AppDirectory) -> String? {
        let projects = app.allFiles.filter {
            ($0.hasSuffix(".csproj") || $0.hasSuffix(".fsproj")) && $0.split(separator: "/").count <= 2
        }
        return projects.first { !$0.contains("/") } ?? projects.sorted().first
    }

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        guard let project = Self.project(app), let xml = app.read(project) else {
            throw PlannerError(
                .invalidValue, "no .csproj or .fsproj next to the solution (top level or one directory down)",
                file: detect(app))
        }
        let assembly =
            Self.element("AssemblyName", in: xml)?.value
            ?? String(project.split(separator: "/").last!.split(separator: ".").dropLast().joined(separator: "."))
        var framework: VersionRequest? = nil
        if let tf = Self.element("TargetFramework", in: xml), tf.value.hasPrefix("net"),
            tf.value.dropFirst(3).first?.isNumber == true
        {
            framework = VersionRequest(
                value: String(tf.value.dropFirst(3)), from: project, key: "TargetFramework", line: tf.line)
        }
        let dotnet = try ctx.toolchain("dotnet", idiomatic: [try Self.globalJSON(app), framework])
        let inputs =
            ctx.existing([
                "global.json", "nuget.config", "NuGet.Config", "Directory.Build.props", "Directory.Packages.props"
            ])
            + app.allFiles.filter { $0.hasSuffix(".csproj") || $0.hasSuffix(".fsproj") || $0.hasSuffix(".sln") }
        var out = ProviderOutput.recipe(
            [dotnet], variables: ["DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"],
            install: RecipeStep(
                cmds: ["dotnet restore \(shellQuote(project))"], caches: ["/root/.nuget/packages"], inputs: inputs),
            build: RecipeStep(cmds: ["dotnet publish \(shellQuote(project)) -c Release --no-restore -o out"]),
            start: StartConfig(cmd: "dotnet out/\(shellQuote(assembly + ".dll"))"), deploy: ["out"],
            runtimePackages: ["ca-certificates"])
        // Without ICU in the slim runtime: invariant globalization.
        out.runtimeVariables = [
            "ASPNETCORE_URLS": "http://0.0.0.0:8080", "PORT": "8080", "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"
        ]
        return out
    }

    /// `global.json` `sdk.version` with its `rollForward` policy (default patch) as a range.
    static func globalJSON(_ app: AppDirectory) throws(PlannerError) -> VersionRequest? {
        guard let doc = try app.json("global.json"), let node = doc["sdk"]?["version"], let version = node.stringValue,
            let v = SemanticVersion(version)
        else { return nil }
        let band = v[2] / 100 * 100
        let range: String
        switch doc["sdk"]?["rollForward"]?.stringValue ?? "patch" {
        case "disable": range = version
        case "feature", "latestFeature": range = ">=\(version) <\(v[0]).\(v[1] + 1)"
        case "minor", "latestMinor": range = ">=\(version) <\(v[0] + 1)"
        case "major", "latestMajor": range = ">=\(version)"
        default: range = ">=\(version) <\(v[0]).\(v[1]).\(band + 100)"
        }
        return VersionRequest(value: range, from: "global.json", key: "sdk.version", line: node.line)
    }

    static func element(_ tag: String, in xml: String) -> (value: String, line: Int)? {
        guard let open = xml.range(of: "<\(tag)>"), let close = xml[open.upperBound...].range(of: "</\(tag)>") else {
            return nil
        }
        let line = xml[..<open.lowerBound].filter { $0 == "\n" }.count + 1
        return (xml[open.upperBound..<close.lowerBound].trimmed(" \n\t\r"), line)
    }
}

struct ZigProvider: Provider {
    let name = "zig"
    let triggers = ["build.zig"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let zon = app.read("build.zig.zon")
        var minimum: VersionRequest? = nil
        if let zon, let m = Self.field("minimum_zig_version", in: zon) {
            minimum = VersionRequest(
                value: ">=" + m.value, from: "build.zig.zon", key: "minimum_zig_version", line: m.line)
        }
        let zig = try ctx.toolchain("zig", idiomatic: [ctx.versionFiles.file(".zig-version"), minimum])
        let build = app.read("build.zig") ?? ""
        guard let exe = Self.executableName(build) ?? zon.flatMap({ Self.field("name", in: $0)?.value }) else {
            throw PlannerError(
                .invalidValue, "no executable found: build.zig has no addExecutable(.{ .name = \"...\" })",
                file: "build.zig")
        }
        return .recipe(
            [zig],
            build: RecipeStep(
                cmds: [Self.zigBuild], caches: ["/root/.cache/zig", "/app/.zig-cache"]
            ),
            start: StartConfig(cmd: "./out/bin/\(exe)"), deploy: ["out"])
    }

    /// The build command; `ZIG_TARGET` (set by the engine when it cross-compiles for another platform, e.g.
    /// `aarch64-linux-gnu`) becomes `-Dtarget`.
    static let zigBuild = "zig build -Doptimize=ReleaseSafe --prefix out ${ZIG_TARGET:+-Dtarget=$ZIG_TARGET}"

    /// `.name = "x"` or `.name = .x` (Zig 0.14 enum literal) in build.zig.zon.
    static func field(_ name: String, in text: String) -> (value: String, line: Int)? {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmed(" \t\r,")
            guard t.hasPrefix(".\(name)") else { continue }
            guard let eq = t.firstIndex(of: "=") else { continue }
            let value = t[t.index(after: eq)...].trimmed(" \t\".")
            if !value.isEmpty { return (value, i + 1) }
        }
        return nil
    }

    /// The `.name` inside the first `addExecutable(.{ ... })`.
    static func executableName(_ build: String) -> String? {
        guard let call = build.range(of: "addExecutable(") else { return nil }
        let rest = build[call.upperBound...]
        guard let n = rest.range(of: ".name"), let eq = rest[n.upperBound...].firstIndex(of: "=") else { return nil }
        let value = rest[rest.index(after: eq)...].drop { $0 == " " || $0 == "\"" }.prefix {
            $0 != "\"" && $0 != "," && $0 != "\n"
        }
        return value.isEmpty ? nil : String(value)
    }
}

struct GleamProvider: Provider {
    let name = "gleam"
    let triggers = ["gleam.toml"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let manifest = try ctx.app.toml("gleam.toml")
        let gleam = try ctx.toolchain("gleam", idiomatic: [VersionFiles.value(manifest, ["gleam"], file: "gleam.toml")])
        let erlang = try ctx.toolchain("erlang", providerConfig: false)
        return .recipe(
            [gleam, erlang],
            install: RecipeStep(
                cmds: ["gleam deps download"], caches: ["/root/.cache/gleam"],
                inputs: ctx.existing(["gleam.toml", "manifest.toml"])),
            build: RecipeStep(cmds: ["gleam export erlang-shipment"]),
            start: StartConfig(cmd: "./build/erlang-shipment/entrypoint.sh run"), deploy: ["build/erlang-shipment"],
            runtimePackages: erlang.runtimePackages)
    }
}

struct DartProvider: Provider {
    let name = "dart"
    let triggers = ["pubspec.yaml"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let text = app.read("pubspec.yaml") ?? ""
        let doc = ((try? Yams.load(yaml: text)) as? [String: Any]) ?? [:]
        var sdk: VersionRequest? = nil
        if let s = (doc["environment"] as? [String: Any])?["sdk"] as? String {
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                $0.trimmed(" ").hasPrefix("sdk:")
            }.map { $0 + 1 }
            sdk = VersionRequest(value: s, from: "pubspec.yaml", key: "environment.sdk", line: line)
        }
        let dart = try ctx.toolchain("dart", idiomatic: [sdk])
        let package = doc["name"] as? String
        guard
            let entry = ["bin/server.dart", package.map { "bin/\($0).dart" }, "bin/main.dart"].compactMap({ $0 }).first(
                where: app.has)
                ?? app.allFiles.filter({ $0.hasPrefix("bin/") && $0.hasSuffix(".dart") }).sorted().first
        else {
            throw PlannerError(.invalidValue, "no bin/*.dart entry point to compile", file: "pubspec.yaml")
        }
        return .recipe(
            [dart],
            install: RecipeStep(
                cmds: ["dart pub get"], caches: ["/root/.pub-cache"],
                inputs: ctx.existing(["pubspec.yaml", "pubspec.lock"])),
            build: RecipeStep(cmds: ["mkdir -p out", "dart compile exe \(shellQuote(entry)) -o out/server"]),
            start: StartConfig(cmd: "./out/server"), deploy: ["out"], runtimePackages: ["ca-certificates"])
    }
}

struct SwiftProvider: Provider {
    let name = "swift"
    let triggers = ["Package.swift"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        let manifest = app.read("Package.swift") ?? ""
        var tools: VersionRequest? = nil
        if let first = manifest.split(separator: "\n").first, let r = first.range(of: "swift-tools-version:") {
            tools = VersionRequest(
                value: ">=" + first[r.upperBound...].trimmed(" "), from: "Package.swift", key: "swift-tools-version",
                line: 1)
        }
        let swift = try ctx.toolchain("swift", idiomatic: [ctx.versionFiles.file(".swift-version"), tools])
        guard
            let product = ["executable(name:", "executableTarget(name:"].lazy.compactMap({
                Self.quoted(after: $0, in: manifest)
            }).first
        else {
            throw PlannerError(
                .invalidValue, "Package.swift declares no executable product or executableTarget", file: "Package.swift"
            )
        }
        return .recipe(
            [swift],
            install: RecipeStep(
                cmds: ["swift package resolve"], caches: ["/root/.cache/org.swift.swiftpm"],
                inputs: ctx.existing(["Package.swift", "Package.resolved"])),
            build: RecipeStep(
                cmds: [
                    "swift build -c release --static-swift-stdlib --product \(shellQuote(product))",
                    "mkdir -p out", "cp .build/release/\(shellQuote(product)) out/"
                ], caches: ["/app/.build"]),
            start: StartConfig(cmd: "./out/\(product)"), deploy: ["out"],
            runtimePackages: ["ca-certificates", "libstdc++6"])
    }

    static func quoted(after marker: String, in text: String) -> String? {
        guard let r = text.range(of: marker) else { return nil }
        let rest = text[r.upperBound...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        return String(rest.dropFirst().prefix { $0 != "\"" })
    }
}

struct ScalaProvider: Provider {
    let name = "scala"
    let triggers = ["build.sbt"]

    func plan(_ ctx: ProviderContext) throws(PlannerError) -> ProviderOutput {
        let app = ctx.app
        var sbtVersion: VersionRequest? = nil
        if let props = app.read("project/build.properties") {
            for (i, line) in props.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.hasPrefix("sbt.version") {
                if let eq = line.firstIndex(of: "=") {
                    sbtVersion = VersionRequest(
                        value: line[line.index(after: eq)...].trimmed(" \r"), from: "project/build.properties",
                        key: "sbt.version", line: i + 1)
                }
            }
        }
        let sbt = try ctx.toolchain("sbt", idiomatic: [sbtVersion], providerConfig: false)
        let java = try ctx.toolchain(
            "java", idiomatic: [ctx.versionFiles.file(".java-version") { VersionFiles.normalize("java", $0) }])
        let plugins = app.read("project/plugins.sbt") ?? ""
        let build = app.read("build.sbt") ?? ""
        let name = build.split(separator: "\n").first { $0.contains("name :=") }
            .flatMap { $0.split(separator: "\"").dropFirst().first.map(String.init) }
        let cmds: [String]
        let start: String
        if plugins.contains("sbt-native-packager"), let name {
            cmds = ["sbt -batch stage"]
            start = "target/universal/stage/bin/\(name)"
        } else if plugins.contains("sbt-assembly") {
            cmds = ["sbt -batch assembly", "cp $(ls -1 target/scala-*/*-assembly-*.jar | head -n 1) app-assembly.jar"]
            start = "java $JAVA_OPTS -jar app-assembly.jar"
        } else {
            throw PlannerError(
                .invalidValue,
                "add sbt-native-packager (with name := \"...\") or sbt-assembly to project/plugins.sbt so the build produces something to run",
                file: "project/plugins.sbt")
        }
        return .recipe(
            [sbt, java], build: RecipeStep(cmds: cmds, caches: ["/root/.ivy2", "/root/.sbt", "/root/.cache/coursier"]),
            start: StartConfig(cmd: start),
            deploy: plugins.contains("sbt-native-packager") ? ["target/universal/stage"] : ["app-assembly.jar"],
            runtimePackages: java.runtimePackages)
    }
}
