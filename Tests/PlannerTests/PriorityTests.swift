import Foundation
import Testing

@testable import Planner

@Suite("Planner priority chain")
struct PriorityTests {
    static let app: [String: String] = [
        "requirements.txt": "flask\ngunicorn\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n"
    ]

    enum Level: String, CaseIterable, Sendable { case provider, procfile, config, env, cli }

    /// Builds an app + options where every level up to `top` sets the start command, and checks the top one wins.
    @Test("start command: the highest level present wins", arguments: Level.allCases)
    func startCommand(top: Level) throws {
        var files = Self.app
        var options = PlanOptions()
        let levels = Level.allCases.prefix { $0 != top } + [top]
        for level in levels {
            switch level {
            case .provider: break
            case .procfile: files["Procfile"] = "web: from-procfile\n"
            case .config: files["nixpacks.toml"] = "[start]\ncmd = \"from-config\"\n"
            case .env: options.environment["NIXPACKS_START_CMD"] = "from-env"
            case .cli: options.startCmd = "from-cli"
            }
        }
        let app = try TempApp(files)
        let plan = try Planner.plan(appDirectory: app.path, options: options).plan
        let expected = top == .provider ? "gunicorn --bind 0.0.0.0:${PORT:-8000} app:app" : "from-\(top.rawValue)"
        #expect(plan.deploy?.startCommand == expected)
    }

    @Test("install commands (array): replace, or splice with ... at each level")
    func installArray() throws {
        let app = try TempApp(
            Self.app.merging(["nixpacks.toml": "[phases.install]\ncmds = [\"...\", \"echo config\"]\n"]) { $1 })
        var options = PlanOptions()
        var plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(
            plan.steps.first { $0.name == "install" }?.commands == [
                "python3 -m venv /app/.venv", "pip install -r requirements.txt", "echo config"
            ])
        options.environment["NIXPACKS_INSTALL_CMD"] = "echo env"
        plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.steps.first { $0.name == "install" }?.commands == ["echo env"])
        options.installCmd = "echo cli"
        plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.steps.first { $0.name == "install" }?.commands == ["echo cli"])
    }

    @Test("apt packages splice across config, env and CLI")
    func aptSplice() throws {
        let app = try TempApp(
            Self.app.merging([
                "nixpacks.toml": "[phases.setup]\naptPkgs = [\"...\", \"curl\"]\nnixPkgs = [\"ffmpeg\"]\n"
            ]) { $1 })
        var options = PlanOptions()
        options.environment = ["NIXPACKS_APT_PKGS": "jq, git", "NIXPACKS_PKGS": "sqlite"]
        options.apt = ["make"]
        let setup = try #require(
            try Planner.plan(appDirectory: app.path, options: options).plan.steps.first { $0.name == "setup" })
        #expect(
            setup.aptPackages == [
                "curl", "ffmpeg", "git", "jq", "libsqlite3-dev", "make", "python3", "python3-pip", "python3-venv",
                "sqlite3"
            ])
    }

    @Test("variables (map): merged by key, CLI --env wins")
    func variables() throws {
        let app = try TempApp(
            Self.app.merging([
                "nixpacks.toml": "[variables]\nA = \"config\"\nB = \"config\"\nPYTHONUNBUFFERED = \"0\"\n"
            ]) { $1 })
        var options = PlanOptions()
        options.env = ["B=cli", "C=cli"]
        let plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.deploy?.env["A"] == "config")
        #expect(plan.deploy?.env["B"] == "cli")
        #expect(plan.deploy?.env["C"] == "cli")
        #expect(plan.deploy?.env["PYTHONUNBUFFERED"] == "0")  // config beats provider
        #expect(plan.buildVariables["B"] == "cli")
    }

    @Test("OCIFORGE_ settings win over NIXPACKS_ ones; newlines are stripped")
    func prefixes() throws {
        let app = try TempApp(Self.app)
        var options = PlanOptions()
        options.environment = [
            "NIXPACKS_START_CMD": "nix", "OCIFORGE_START_CMD": "oci\nforge", "NIXPACKS_BUILD_CMD": "b"
        ]
        let plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.deploy?.startCommand == "oci forge")
        #expect(plan.steps.first { $0.name == "build" }?.commands == ["b"])
    }

    @Test("--json-plan sits above the environment and below CLI flags")
    func jsonPlan() throws {
        let app = try TempApp(Self.app)
        var options = PlanOptions()
        options.environment = ["NIXPACKS_START_CMD": "env"]
        options.jsonPlan = "{\"start\": {\"cmd\": \"json\"}, \"variables\": {\"J\": \"1\"}}"
        #expect(try Planner.plan(appDirectory: app.path, options: options).plan.deploy?.startCommand == "json")
        options.startCmd = "cli"
        let plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.deploy?.startCommand == "cli")
        #expect(plan.deploy?.env["J"] == "1")
    }

    @Test("version sources: env > manifest > idiomatic file > default")
    func versionSources() throws {
        let files = [
            "package.json":
                "{\"name\": \"x\", \"engines\": {\"node\": \"18.x\"}, \"scripts\": {\"start\": \"node i.js\"}}",
            ".nvmrc": "lts/*\n", "i.js": ""
        ]
        let app = try TempApp(files)
        var options = PlanOptions()
        var t = try Planner.plan(appDirectory: app.path, options: options).plan.toolchains[0]
        #expect(t.request == ToolchainRequest(constraint: "18.x", from: "package.json", line: 1, key: "engines.node"))
        #expect(t.source == .upstream && t.upstream?.constraint == "18.x" && t.version == nil)
        options.environment["OCIFORGE_NODE_VERSION"] = "20"
        t = try Planner.plan(appDirectory: app.path, options: options).plan.toolchains[0]
        #expect(t.request?.from == "OCIFORGE_NODE_VERSION" && t.request?.constraint == "20")
        #expect(t.source == .debian && t.version == "20.19.2" && t.packages == ["nodejs", "npm"])
        let app2 = try TempApp(["package.json": "{\"name\": \"x\"}", ".nvmrc": "lts/*\n", ".node-version": "20\n"])
        t = try Planner.plan(appDirectory: app2.path, options: PlanOptions()).plan.toolchains[0]
        #expect(t.request == ToolchainRequest(constraint: "lts/*", from: ".nvmrc", line: 1) && t.source == .upstream)
        let app3 = try TempApp(["package.json": "{\"name\": \"x\"}"])
        t = try Planner.plan(appDirectory: app3.path, options: PlanOptions()).plan.toolchains[0]
        #expect(t.request == nil && t.source == .debian && t.debian?.suite == "trixie")
    }

    @Test("Compartment env list: only listed variables reach the build; listed but undefined ones become secrets")
    func compartmentEnv() throws {
        let app = try TempApp(
            Self.app.merging([
                "ociforge.toml":
                    "secrets = [\"DB_PASSWORD\"]\n[build]\nenv = [\"A\", \"TOKEN\"]\n\n[variables]\nA = \"1\"\nB = \"2\"\nDB_PASSWORD = \"leak\"\n"
            ]) { $1 })
        let plan = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan
        #expect(plan.buildVariables == ["A": "1"])
        #expect(plan.secrets == ["DB_PASSWORD", "TOKEN"])
        #expect(plan.deploy?.env["B"] == "2")
        #expect(plan.deploy?.env["DB_PASSWORD"] == nil)
        #expect(plan.steps.allSatisfy { $0.secrets == ["DB_PASSWORD", "TOKEN"] })
    }

    @Test("NO_CACHE drops caches; detect lists the chosen providers")
    func noCacheAndDetect() throws {
        let app = try TempApp(Self.app)
        var options = PlanOptions()
        options.environment["NIXPACKS_NO_CACHE"] = "1"
        let plan = try Planner.plan(appDirectory: app.path, options: options).plan
        #expect(plan.caches.isEmpty && plan.steps.allSatisfy { $0.caches.isEmpty })
        let detected = try Planner.detect(appDirectory: app.path, options: PlanOptions())
        #expect(detected == [DetectedProvider(name: "python", matchedFile: "requirements.txt")])
        #expect(PlanRenderer.detect(detected) == "python\t(requirements.txt)\n")
    }

    @Test("backend languages are detected before node")
    func detectionOrder() throws {
        let app = try TempApp(["Gemfile": "source 'x'\n", "package.json": "{}", "requirements.txt": ""])
        #expect(try Planner.detect(appDirectory: app.path, options: PlanOptions()).map(\.name) == ["ruby"])
        let app2 = try TempApp(["package.json": "{}", "requirements.txt": ""])
        #expect(try Planner.detect(appDirectory: app2.path, options: PlanOptions()).map(\.name) == ["python"])
    }
}

@Suite("Planner building blocks")
struct BuildingBlockTests {
    @Test(
        "ignore rules",
        arguments: [
            ("docker", "**/*.log", "a/b/c.log", true), ("docker", "*.log", "a/c.log", false),
            ("docker", "tmp", "tmp/x", true),
            ("docker", "tmp/*.txt", "tmp/x.txt", true), ("docker", "/build", "build/out", true),
            ("git", "*.pyc", "a/b.pyc", true),
            ("git", "/build", "src/build/x", false), ("git", "build/", "src/build/x", true),
            ("git", "build/", "build", false),
            ("docker", "a?c", "abc", true), ("docker", "[a-c]x", "bx", true), ("docker", "[!a-c]x", "bx", true),
            ("docker", "[^a-c]x", "bx", false),
            ("docker", "__pycache__/", "__pycache__", true), ("git", "__pycache__/", "__pycache__", false),
            ("docker", "build", "src/build", false), ("git", "build", "src/build", true),
            ("docker", "**/build", "src/build", true),
            ("docker", "docs/**", "docs/a/b.md", true), ("docker", "./a/../b", "b/c", true),
            ("git", "docs/**/*.md", "docs/a/b/c.md", true)
        ] as [(String, String, String, Bool)])
    func ignore(_ dialect: String, _ pattern: String, _ path: String, _ excluded: Bool) throws {
        var rules = IgnoreRules()
        try rules.add(pattern, gitStyle: dialect == "git")
        #expect(rules.excludes(path) == excluded, "\(dialect) \(pattern) \(path)")
    }

    @Test("negation: last matching rule wins")
    func negation() throws {
        var rules = IgnoreRules()
        try rules.addDockerignore("tmp\n!tmp/keep\n# comment\n\n*.md\n!README.md\n", file: ".dockerignore")
        #expect(rules.excludes("tmp/a"))
        #expect(!rules.excludes("tmp/keep"))
        #expect(rules.excludes("x.md"))
        #expect(!rules.excludes("README.md"))
    }

    @Test("the planner's build context and the Dockerfile context apply .dockerignore identically")
    func dockerignoreSameInBothFrontEnds() throws {
        let app = try TempApp([
            ".dockerignore": "__pycache__/\ndocs\n**/*.tmp\n/vendor\n!vendor/keep.txt\n", "requirements.txt": "flask\n",
            "app.py": "", "__pycache__": "a file", "src/__pycache__/m.pyc": "", "docs": "", "lib/docs/r.md": "",
            "a.tmp": "", "pkg/b.tmp": "", "vendor/drop.txt": "", "vendor/keep.txt": ""
        ])
        let planned = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan.context.files
        let tree = try DockerfileContextTree(root: app.path)
        let dockerfileFiles = tree.entries.filter { $0.value == .file }.keys.sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
        #expect(planned == dockerfileFiles)
        #expect(
            planned == [
                ".dockerignore", "app.py", "lib/docs/r.md", "requirements.txt", "src/__pycache__/m.pyc",
                "vendor/keep.txt"
            ])
    }

    @Test("non-root by default; --user root opts out and wins over start.user")
    func runtimeUser() throws {
        let app = try TempApp(["main.py": "print(1)\n", "nixpacks.toml": "[start]\nuser = \"web\"\n"])
        var options = PlanOptions()
        let byConfig = try #require(try Planner.plan(appDirectory: app.path, options: options).plan.deploy)
        #expect(byConfig.user == "web" && byConfig.runtimeUser == RuntimeUser(name: "web", uid: 10001, gid: 10001))
        options.user = "root"
        let root = try #require(try Planner.plan(appDirectory: app.path, options: options).plan.deploy)
        #expect(root.user == "root" && root.runtimeUser == nil)
        options.user = "bad user"
        #expect(throws: PlannerError.self) { try Planner.plan(appDirectory: app.path, options: options) }
        #expect(
            RuntimeUser(writable: ["storage"]).ownershipCommand(workingDirectory: "/app")
                == "mkdir -p /app/storage && chown -R 10001:10001 /app/storage && chmod -R u+rwX /app/storage")
    }

    @Test("nix names map to Debian packages")
    func nixMapping() throws {
        let trixie = Debian.suites["trixie"]!, bookworm = Debian.suites["bookworm"]!
        #expect(
            try Debian.mapNix(["...", "postgresql", "nodejs"], suite: trixie, file: nil, key: "k") == [
                "postgresql-client", "libpq-dev", "nodejs", "npm"
            ])
        #expect(
            try Debian.mapNix(["go", "python313"], suite: trixie, file: nil, key: "k") == ["golang-1.24-go", "python3"])
        #expect(try Debian.mapNix(["go"], suite: bookworm, file: nil, key: "k") == ["golang-1.19-go"])
        #expect(throws: PlannerError.self) { try Debian.mapNix(["python312"], suite: trixie, file: nil, key: "k") }
        #expect(throws: PlannerError.self) { try Debian.mapNix(["python313"], suite: bookworm, file: nil, key: "k") }
    }

    @Test("freeze pins Debian versions; summary table lists phases and start")
    func freezeAndSummary() throws {
        let app = try TempApp(["go.mod": "module x\n\ngo 1.24\n", "main.go": "package main\nfunc main(){}\n"])
        let frozen = try Planner.freeze(appDirectory: app.path, options: PlanOptions()).plan
        #expect(frozen.toolchains[0].packages.contains("golang-1.24-go=1.24.4-1"))
        #expect(frozen.steps[0].aptPackages.contains("golang-1.24-go=1.24.4-1"))
        let table = PlanRenderer.summary(frozen)
        for needle in [
            "setup", "install", "go mod download", "build", "go build", "start", "./out", "go 1.24.4",
            "go 1.24.4 from debian trixie — go.mod:3 go >=1.24"
        ] {
            #expect(table.contains(needle), "summary lacks \(needle)")
        }
        let toml = try PlanRenderer.toml(frozen)
        #expect(toml.contains("schemaVersion = 2"))
        // A version only backports carries: the package comes from trixie-backports, pinned by version when frozen.
        let app2 = try TempApp(["go.mod": "module x\n\ngo 1.26\n", "main.go": "package main\nfunc main(){}\n"])
        let plan2 = try Planner.plan(appDirectory: app2.path, options: PlanOptions()).plan
        #expect(plan2.aptSuites == ["trixie-backports"] && plan2.toolchains[0].version == "1.26.11")
        #expect(
            plan2.steps[0].aptPackages.contains("golang-1.26-go/trixie-backports")
                && plan2.steps[0].paths == ["/usr/lib/go-1.26/bin"])
        let frozen2 = try Planner.freeze(appDirectory: app2.path, options: PlanOptions()).plan
        #expect(frozen2.steps[0].aptPackages.contains("golang-1.26-go=1.26.11-1~bpo13+1"))
    }

    @Test("JSON output is byte-for-byte stable")
    func stableJSON() throws {
        let app = try TempApp([
            "package.json": "{\"name\": \"x\", \"scripts\": {\"start\": \"node i.js\", \"build\": \"b\"}}", "i.js": ""
        ])
        let a = PlanRenderer.json(try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan)
        let b = PlanRenderer.json(try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan)
        #expect(a == b)
        let decoded = try JSONDecoder().decode(ResolvedPlan.self, from: Data(a.utf8))
        #expect(PlanRenderer.json(decoded) == a)
    }
}

@Suite("Planner warnings")
struct WarningTests {
    @Test("Nix-only settings are reported, not silently dropped")
    func nixOnly() throws {
        let app = try TempApp([
            "go.mod": "module x\n\ngo 1.19\n", "main.go": "package main\nfunc main(){}\n",
            "nixpacks.toml": "[phases.setup]\nnixOverlays = [\"https://x\"]\nnixpkgsArchive = \"abc\"\n"
        ])
        let result = try Planner.plan(appDirectory: app.path, options: PlanOptions())
        #expect(
            result.warnings.contains {
                $0.key == "phases.setup.nixOverlays" && $0.line == 2 && $0.file == "nixpacks.toml"
            })
        #expect(result.warnings.contains { $0.key == "phases.setup.nixpkgsArchive" && $0.line == 3 })
    }

    @Test("unknown NIXPACKS_/OCIFORGE_ settings are reported")
    func unknownSetting() throws {
        let app = try TempApp(["go.mod": "module x\n\ngo 1.19\n", "main.go": "package main\nfunc main(){}\n"])
        var options = PlanOptions()
        options.environment = ["NIXPACKS_INSTAL_CMD": "x", "PATH": "/bin"]
        let result = try Planner.plan(appDirectory: app.path, options: options)
        #expect(result.warnings.contains { $0.key == "NIXPACKS_INSTAL_CMD" })
        #expect(result.warnings.count == 1)
    }
}

@Suite("Planner settings from variables")
struct SettingsFromVariablesTests {
    @Test("NIXPACKS_* in [variables] act as settings below the real environment")
    func variablesAsSettings() throws {
        let files = [
            "package.json": "{\"name\": \"x\", \"engines\": {\"node\": \">=20\"}}",
            "nixpacks.toml": "[variables]\nNIXPACKS_NODE_VERSION = \"18\"\n"
        ]
        let app = try TempApp(files)
        var t = try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan.toolchains[0]
        #expect(
            t.request?.from == "variables.NIXPACKS_NODE_VERSION" && t.request?.constraint == "18"
                && t.source == .upstream)
        var options = PlanOptions()
        options.environment["NIXPACKS_NODE_VERSION"] = "18"
        options.environment["OCIFORGE_TOOLCHAIN_NODE_SOURCE"] = "debian"
        #expect {
            try Planner.plan(appDirectory: app.path, options: options)
        } throws: { e in
            (e as? PlannerError)?.key == "NIXPACKS_NODE_VERSION" && (e as? PlannerError)?.code == .unsupportedToolchain
        }
        options.environment["NIXPACKS_NODE_VERSION"] = "20.x"
        t = try Planner.plan(appDirectory: app.path, options: options).plan.toolchains[0]
        #expect(t.request?.from == "NIXPACKS_NODE_VERSION" && t.request?.constraint == "20.x" && t.source == .debian)
    }
}
