import Foundation
import Testing

@testable import Planner

@Suite("Toolchain sources and version files")
struct ToolchainPlanTests {
    static func node(_ app: borrowing TempApp, _ options: PlanOptions = PlanOptions()) throws -> Toolchain {
        try #require(
            try Planner.plan(appDirectory: app.path, options: options).plan.toolchains.first { $0.name == "node" })
    }

    static let pkg =
        "{\n  \"name\": \"x\",\n  \"engines\": {\"node\": \">=18\"},\n  \"scripts\": {\"start\": \"node i.js\"}\n}\n"

    @Test("node precedence: env > [toolchains] > mise.toml > .tool-versions > .nvmrc > engines > default")
    func precedence() throws {
        var files = ["package.json": Self.pkg, "i.js": ""]
        var t = try Self.node(try TempApp(files))
        #expect(t.request == ToolchainRequest(constraint: ">=18", from: "package.json", line: 3, key: "engines.node"))
        files[".nvmrc"] = "22\n"
        t = try Self.node(try TempApp(files))
        #expect(t.request?.from == "package.json")  // engines.node ranks above .nvmrc among idiomatic files
        files["package.json"] = "{\"scripts\": {\"start\": \"node i.js\"}}"
        t = try Self.node(try TempApp(files))
        #expect(t.request == ToolchainRequest(constraint: "22", from: ".nvmrc", line: 1) && t.source == .upstream)
        files[".tool-versions"] = "python 3.13\nnodejs 20.19.0 20\n"
        t = try Self.node(try TempApp(files))
        #expect(t.request == ToolchainRequest(constraint: "20.19.0", from: ".tool-versions", line: 2, key: "nodejs"))
        files[".config/mise.toml"] = "[tools]\nnode = { version = \"24\" }\n"
        t = try Self.node(try TempApp(files))
        #expect(t.request == ToolchainRequest(constraint: "24", from: ".config/mise.toml", line: 2, key: "tools.node"))
        files["mise.toml"] = "[tools]\nnode = [\"20\", \"22\"]\n"
        t = try Self.node(try TempApp(files))
        #expect(
            t.request?.from == "mise.toml" && t.request?.constraint == "20" && t.source == .debian
                && t.version == "20.19.2")
        files["ociforge.toml"] = "[toolchains.node]\nversion = \"lts/iron\"\n"
        t = try Self.node(try TempApp(files))
        #expect(
            t.request
                == ToolchainRequest(
                    constraint: "lts/iron", from: "ociforge.toml", line: 2, key: "toolchains.node.version"))
        #expect(t.source == .debian && t.version == "20.19.2")  // iron is Node 20, which trixie ships
        var options = PlanOptions()
        options.environment["OCIFORGE_NODE_VERSION"] = "lts/*"
        t = try Self.node(try TempApp(files), options)
        #expect(
            t.request?.from == "OCIFORGE_NODE_VERSION" && t.source == .upstream && t.upstream?.constraint == "lts/*")
    }

    @Test("[toolchains.mirrors]: carried in the plan for the engine; each value must be an http(s) URL")
    func mirrorsTable() throws {
        var files = [
            "package.json": "{\"engines\": {\"node\": \">=24\"}, \"scripts\": {\"start\": \"node i.js\"}}",
            "i.js": "",
            "ociforge.toml":
                "[toolchains.mirrors]\nnode = \"https://mirror.test/node\"\ndeno-index = \"http://127.0.0.1:9/d\"\n"
        ]
        let withMirrors = try TempApp(files)
        var plan = try Planner.plan(appDirectory: withMirrors.path, options: PlanOptions()).plan
        #expect(plan.toolchainMirrors == ["node": "https://mirror.test/node", "deno-index": "http://127.0.0.1:9/d"])
        files["ociforge.toml"] = nil
        let without = try TempApp(files)
        plan = try Planner.plan(appDirectory: without.path, options: PlanOptions()).plan
        #expect(plan.toolchainMirrors == nil && !PlanRenderer.json(plan).contains("toolchainMirrors"))
        files["ociforge.toml"] = "[toolchains.mirrors]\nnode = \"ftp://m/node\"\n"
        let app = try TempApp(files)
        #expect { try Planner.plan(appDirectory: app.path, options: PlanOptions()) } throws: { e in
            (e as? PlannerError)?.code == .invalidValue && (e as? PlannerError)?.key == "toolchains.mirrors.node"
        }
    }

    @Test("swift: tools-version <= 6.0 from trixie's swiftlang; above it swift.org, with [toolchains.swift] keyring")
    func swiftSourceAndKeyring() throws {
        func swift(_ files: [String: String]) throws -> Toolchain {
            let app = try TempApp(files)
            return try #require(
                try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan.toolchains.first {
                    $0.name == "swift"
                })
        }
        let main = "print(1)\n"
        var files = [
            "Package.swift": "// swift-tools-version: 6.0\nlet package = Package(name: \"a\", targets: "
                + "[.executableTarget(name: \"a\", path: \"S\")])\n",
            "S/main.swift": main
        ]
        var t = try swift(files)
        #expect(
            t.source == .debian && t.version == "6.0.3"
                && t.packages == ["swiftlang", "libswiftlang", "libc6-dev", "libstdc++-14-dev"])
        #expect(t.debian?.paths == ["/usr/libexec/swift/bin"] && t.debian?.runtimePackages == [])
        files["Package.swift"] = files["Package.swift"]!.replacingOccurrences(of: "6.0", with: "6.1")
        files["ociforge.toml"] = "[toolchains.swift]\nkeyring = \"/etc/ociforge/swift-keys.gpg\"\n"
        t = try swift(files)
        #expect(t.source == .upstream && t.upstream?.channel == "swift" && t.upstream?.constraint == ">=6.1")
        #expect(t.upstream?.keyring == "/etc/ociforge/swift-keys.gpg")
        files["ociforge.toml"] = "[toolchains.swift]\nkeyring = \"keys.gpg\"\n"
        let relative = try TempApp(files)
        #expect { try Planner.plan(appDirectory: relative.path, options: PlanOptions()) } throws: { e in
            (e as? PlannerError)?.code == .invalidValue && (e as? PlannerError)?.key == "toolchains.swift.keyring"
        }
        // bookworm packages no Swift: upstream whatever the tools version.
        files["ociforge.toml"] = "[build]\nbase = \"debian:bookworm\"\n"
        files["Package.swift"] = files["Package.swift"]!.replacingOccurrences(of: "6.1", with: "5.9")
        #expect(try swift(files).source == .upstream)
    }

    @Test("source and mirror: environment over [toolchains.<tool>]; Debian-only and upstream-only")
    func sourceOverrides() throws {
        let files = [
            "package.json": "{\"engines\": {\"node\": \"20\"}, \"scripts\": {\"start\": \"node i.js\"}}", "i.js": "",
            "ociforge.toml": "[toolchains.node]\nsource = \"upstream\"\nmirror = \"https://mirror.test/node\"\n"
        ]
        let app = try TempApp(files)
        var t = try Self.node(app)
        #expect(t.source == .upstream && t.packages.isEmpty && t.debian == nil)
        #expect(
            t.upstream
                == UpstreamRequirement(
                    channel: "node", constraint: "20", mirror: "https://mirror.test/node", runtime: .full))
        var options = PlanOptions()
        options.environment = [
            "OCIFORGE_TOOLCHAIN_NODE_SOURCE": "debian", "OCIFORGE_TOOLCHAIN_NODE_MIRROR": "http://127.0.0.1:9/n"
        ]
        t = try Self.node(app, options)
        #expect(t.source == .debian && t.version == "20.19.2" && t.upstream == nil)
        options.environment = ["OCIFORGE_TOOLCHAIN_NODE_MIRROR": "http://127.0.0.1:9/n"]
        #expect(try Self.node(app, options).upstream?.mirror == "http://127.0.0.1:9/n")
        options.environment = ["OCIFORGE_TOOLCHAIN_NODE_SOURCE": "nix"]
        #expect { try Self.node(app, options) } throws: { e in
            (e as? PlannerError)?.code == .invalidOption
                && (e as? PlannerError)?.key == "OCIFORGE_TOOLCHAIN_NODE_SOURCE"
        }
        // The deployment gets node from the upstream layer: no Debian nodejs at runtime, and npm comes with it.
        let plan = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan
        #expect(plan.deploy?.aptPackages == [] && plan.packageManagers.first?.via == .bundled)
        #expect(try Planner.plan(appDirectory: app.path, options: PlanOptions()).warnings.isEmpty)
    }

    @Test("the base suite selects the tables: --base > [build] base > buildImage; unknown bases warn")
    func suites() throws {
        let files = [
            "go.mod": "module x\n\ngo 1.21\n", "main.go": "package main\nfunc main(){}\n",
            "nixpacks.toml": "buildImage = \"debian:bookworm\"\n"
        ]
        let app = try TempApp(files)
        var plan = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan
        #expect(plan.suite == "bookworm" && plan.buildImage == "debian:bookworm" && plan.deploy?.base == "scratch")
        // bookworm ships go 1.19; its backports carry 1.21 to 1.23
        #expect(
            plan.toolchains[0].source == .debian && plan.toolchains[0].version == "1.21.13"
                && plan.aptSuites == ["bookworm-backports"])
        var options = PlanOptions()
        options.baseImage = "debian:trixie"
        plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.suite == "trixie" && plan.buildImage == "debian:trixie" && plan.toolchains[0].version == "1.24.4")
        #expect(plan.steps[0].paths == ["/usr/lib/go-1.24/bin"])
        options.baseImage = "/srv/rootfs.tar"
        let result = try Planner.plan(appDirectory: app.path, options: options)
        #expect(
            result.plan.suite == "trixie"
                && result.warnings.contains { $0.message.contains("not a Debian suite ociforge knows") })
    }

    @Test(
        "idiomatic files of each tool, with file and line",
        arguments: [
            (
                ["go.mod": "module x\n\ngo 1.22\ntoolchain go1.25.3\n", "main.go": ""], "go",
                ToolchainRequest(constraint: ">=1.25.3", from: "go.mod", line: 4, key: "toolchain")
            ),
            (
                ["go.mod": "module x\n", "main.go": "", ".go-version": "1.27\n"], "go",
                ToolchainRequest(constraint: "1.27", from: ".go-version", line: 1)
            ),
            (
                ["pom.xml": "<project>\n</project>\n", ".java-version": "temurin-17.0.9\n"], "java",
                ToolchainRequest(constraint: "17.0.9", from: ".java-version", line: 1)
            ),
            (
                ["pom.xml": "<project>\n</project>\n", ".sdkmanrc": "# sdk\njava=25.0.1-tem\n"], "java",
                ToolchainRequest(constraint: "25.0.1", from: ".sdkmanrc", line: 2, key: "java")
            ),
            (
                ["Gemfile": "source \"x\"\nruby \"3.3.6\"\n", "Rakefile": ""], "ruby",
                ToolchainRequest(constraint: "3.3.6", from: "Gemfile", line: 2, key: "ruby")
            ),
            (
                ["Gemfile": "", "Rakefile": "", "mise.toml": "[tools]\nruby = \"ruby-3.4.1\"\n"], "ruby",
                ToolchainRequest(constraint: "3.4.1", from: "mise.toml", line: 2, key: "tools.ruby")
            ),
            (
                ["requirements.txt": "", "runtime.txt": "python-3.11.9\n"], "python",
                ToolchainRequest(constraint: "3.11.9", from: "runtime.txt", line: 1)
            ),
            (
                [
                    "package.json":
                        "{\"devEngines\": {\"runtime\": {\"name\": \"node\", \"version\": \"^22\"}}, \"engines\": {\"node\": \">=18\"}}"
                ], "node",
                ToolchainRequest(constraint: "^22", from: "package.json", line: 1, key: "devEngines.runtime.version")
            ),
            (
                ["Cargo.toml": "[package]\nname = \"x\"\nrust-version = \"1.80\"\n"], "rust",
                ToolchainRequest(constraint: ">=1.80", from: "Cargo.toml", line: 3, key: "package.rust-version")
            ),
            (
                [
                    "x.csproj":
                        "<Project>\n  <PropertyGroup>\n    <TargetFramework>net9.0</TargetFramework>\n  </PropertyGroup>\n</Project>\n"
                ], "dotnet",
                ToolchainRequest(constraint: "9.0", from: "x.csproj", line: 3, key: "TargetFramework")
            ),
            (
                ["x.csproj": "<Project/>", "global.json": "{\"sdk\": {\"version\": \"8.0.100\"}}"], "dotnet",
                ToolchainRequest(constraint: ">=8.0.100 <8.0.200", from: "global.json", line: 1, key: "sdk.version")
            ),
            (
                ["build.zig": "b.addExecutable(.{ .name = \"z\" })", ".zig-version": "0.14.1\n"], "zig",
                ToolchainRequest(constraint: "0.14.1", from: ".zig-version", line: 1)
            ),
            (
                ["package.json": "{\"packageManager\": \"bun@1.2.3\"}", "index.ts": ""], "bun",
                ToolchainRequest(constraint: "1.2.3", from: "package.json", line: 1, key: "packageManager")
            ),
            (
                ["package.json": "{}", "bun.lock": "", "index.ts": "", ".bun-version": "1.1.0\n"], "bun",
                ToolchainRequest(constraint: "1.1.0", from: ".bun-version", line: 1)
            )
        ] as [([String: String], String, ToolchainRequest)])
    func idiomatic(_ files: [String: String], _ tool: String, _ expected: ToolchainRequest) throws {
        let app = try TempApp(files)
        let plan = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan
        #expect(plan.toolchains.first { $0.name == tool }?.request == expected)
    }

    @Test("package managers at the project's version")
    func packageManagers() throws {
        let poetry = try TempApp([
            "pyproject.toml": "[tool.poetry]\nname = \"x\"\n\n[build-system]\nrequires = [\"poetry-core>=1.0.0\"]\n",
            "main.py": ""
        ])
        var plan = try Planner.plan(appDirectory: poetry.path, options: PlanOptions()).plan
        #expect(
            plan.packageManagers == [
                PackageManager(
                    name: "poetry", version: ">=1,<2", via: .pypi,
                    request: ToolchainRequest(
                        constraint: "poetry-core>=1.0.0", from: "pyproject.toml", line: 5, key: "build-system.requires")
                )
            ])
        #expect(
            plan.steps.first { $0.name == "install" }?.commands.contains("/opt/poetry/bin/pip install 'poetry>=1,<2'")
                == true)
        let uv = try TempApp([
            "pyproject.toml": "[project]\nname = \"x\"\n\n[tool.uv]\nrequired-version = \">=0.8\"\n", "uv.lock": "",
            "main.py": ""
        ])
        plan = try Planner.plan(appDirectory: uv.path, options: PlanOptions()).plan
        #expect(plan.packageManagers.first?.version == ">=0.8" && plan.packageManagers.first?.request?.line == 5)
        let berry = try TempApp([
            "package.json": "{\"packageManager\": \"yarn@4.5.1\", \"scripts\": {\"start\": \"node s.js\"}}",
            ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.5.1.cjs\n", ".yarn/releases/yarn-4.5.1.cjs": "",
            "yarn.lock": ""
        ])
        plan = try Planner.plan(appDirectory: berry.path, options: PlanOptions()).plan
        #expect(
            plan.packageManagers.first
                == PackageManager(
                    name: "yarn", version: "4.5.1", via: .corepack,
                    request: ToolchainRequest(constraint: "4.5.1", from: "package.json", line: 1, key: "packageManager")
                ))
        #expect(plan.deploy?.startCommand == "node .yarn/releases/yarn-4.5.1.cjs run start")
    }

    @Test("the start command's program must be in the runtime image")
    func startCommand() throws {
        let app = try TempApp(["requirements.txt": "", "main.py": ""])
        var options = PlanOptions()
        options.startCmd = "FOO=1 exec npx serve"
        let result = try Planner.plan(appDirectory: app.path, options: options)
        #expect(result.plan.deploy?.aptPackages == ["npm", "python3"])
        #expect(
            result.warnings.contains {
                $0.message.contains("runs npx") && $0.message.contains("added the Debian package npm")
            })
        options.startCmd = "python main.py && deno run x.ts"
        #expect { try Planner.plan(appDirectory: app.path, options: options) } throws: { e in
            guard let e = e as? PlannerError else { return false }
            return e.key == "start.cmd"
                && e.message.contains("runs deno, which the runtime image (debian:trixie-slim) does not provide")
        }
        let scratch = try TempApp([
            "nixpacks.toml": "providers = [\"go\"]\n[start]\ncmd = \"node x.js\"\nrunImage = \"scratch\"\n",
            "go.mod": "module x\n", "main.go": ""
        ])
        #expect { try Planner.plan(appDirectory: scratch.path, options: PlanOptions()) } throws: { e in
            (e as? PlannerError)?.message.contains("cannot install (no package manager)") == true
        }
        // Programs ociforge does not know (node_modules/.bin, the venv) are left alone.
        options.startCmd = "gunicorn app:app"
        #expect(try Planner.plan(appDirectory: app.path, options: options).plan.deploy?.aptPackages == ["python3"])
        #expect(
            StartCommandCheck.programs("A=1 B=2 exec node x.js | tee log; ./run && $HOME/bin/x") == [
                "node", "tee", "./run", "$HOME/bin/x"
            ])
    }

    /// `plan` written as the frozen plan file of `app` and planned again from it: the plan read, the options that
    /// read it, the file.
    static func readBack(_ plan: ResolvedPlan, in app: String) throws -> (ResolvedPlan, PlanOptions, String) {
        let file = app + "/frozen.json"
        try PlanRenderer.writeAtomically(PlanRenderer.json(plan), to: file)
        var options = PlanOptions()
        options.frozenPlanPath = file
        return (try Planner.plan(appDirectory: app, options: options).plan, options, file)
    }

    @Test("frozen plans: upstream pins are kept, shown, and checked")
    func pins() throws {
        let app = try TempApp([
            "package.json": "{\"scripts\": {\"start\": \"node i.js\"}}", "i.js": "", ".nvmrc": "22\n"
        ])
        var plan = try Planner.freeze(appDirectory: app.path, options: PlanOptions()).plan
        #expect(plan.frozen && plan.toolchains[0].upstream?.pin == nil)
        let pin = ToolchainPin(
            version: "22.16.0", url: "https://nodejs.org/dist/v22.16.0/node-v22.16.0-linux-x64.tar.xz",
            digest: "sha256:" + String(repeating: "ab", count: 32), platform: "linux/amd64")
        #expect(plan.unpinnedToolchains.map(\.name) == ["node"])
        #expect(throws: PlannerError.self) {
            try plan.pinning([
                "node": ToolchainPin(version: "21.0.0", url: pin.url, digest: pin.digest, platform: pin.platform)
            ])
        }
        plan = try plan.pinning(["node": pin])
        #expect(plan.unpinnedToolchains.isEmpty && plan.toolchains[0].version == "22.16.0")
        let (read, options, file) = try Self.readBack(plan, in: app.path)
        #expect(read == plan)
        let table = PlanRenderer.summary(read)
        for needle in ["node 22.16.0 from upstream node (pinned, linux/amd64) — .nvmrc:1 22", pin.url, pin.digest] {
            #expect(table.contains(needle), "table lacks \(needle)")
        }
        for (edit, key) in [
            ({ (p: inout ToolchainPin) in p.digest = "sha256:XYZ" }, "digest"),
            ({ (p: inout ToolchainPin) in p.version = "23.1.0" }, "version"),
            ({ (p: inout ToolchainPin) in p.url = "file:///tmp/node.tar.xz" }, "url")
        ] {
            var bad = plan
            var p = pin
            edit(&p)
            bad.toolchains[0].upstream?.pin = p
            try PlanRenderer.writeAtomically(PlanRenderer.json(bad), to: file)
            #expect { try Planner.plan(appDirectory: app.path, options: options) } throws: { e in
                (e as? PlannerError)?.key == "toolchains[0].upstream.pin.\(key)"
            }
        }
    }

    @Test("frozen for two platforms: the other platform's pins are kept, shown, and checked")
    func platformPins() throws {
        let app = try TempApp([
            "package.json": "{\"scripts\": {\"start\": \"node i.js\"}}", "i.js": "", ".nvmrc": "22\n"
        ])
        let amd = ToolchainPin(
            version: "22.16.0", url: "https://nodejs.org/dist/v22.16.0/node-v22.16.0-linux-x64.tar.xz",
            digest: "sha256:" + String(repeating: "ab", count: 32), platform: "linux/amd64")
        let arm = ToolchainPin(
            version: "22.16.0", url: "https://nodejs.org/dist/v22.16.0/node-v22.16.0-linux-arm64.tar.xz",
            digest: "sha256:" + String(repeating: "cd", count: 32), platform: "linux/arm64")
        var plan = try Planner.freeze(appDirectory: app.path, options: PlanOptions()).plan.pinning(["node": amd])
        plan.toolchains[0].upstream?.platformPins = [PlatformPin(pin: arm)]
        let (read, options, file) = try Self.readBack(plan, in: app.path)
        #expect(read == plan)
        let table = PlanRenderer.summary(read)
        for needle in ["(pinned, linux/amd64, linux/arm64)", "linux/arm64: " + arm.url, arm.digest] {
            #expect(table.contains(needle), "table lacks \(needle)")
        }
        for (pins, key) in [
            (
                [
                    PlatformPin(
                        pin: ToolchainPin(version: "22.15.0", url: arm.url, digest: arm.digest, platform: arm.platform))
                ],
                "platformPins[0].pin.version"
            ),
            ([PlatformPin(pin: arm), PlatformPin(pin: arm)], "platformPins[1].pin.platform"),
            ([PlatformPin(pin: amd)], "platformPins[0].pin.platform"),
            (
                [
                    PlatformPin(
                        pin: ToolchainPin(version: arm.version, url: arm.url, digest: "md5:1", platform: arm.platform))
                ],
                "platformPins[0].pin.digest"
            )
        ] {
            var bad = plan
            bad.toolchains[0].upstream?.platformPins = pins
            try PlanRenderer.writeAtomically(PlanRenderer.json(bad), to: file)
            #expect { try Planner.plan(appDirectory: app.path, options: options) } throws: { e in
                (e as? PlannerError)?.key == "toolchains[0].upstream.\(key)"
            }
        }
    }
}
