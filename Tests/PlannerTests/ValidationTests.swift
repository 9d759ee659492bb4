import Foundation
import Testing

@testable import Planner

/// A throwaway app directory under /tmp.
struct TempApp: ~Copyable {
    let path: String
    init(_ files: [String: String]) throws {
        path = NSTemporaryDirectory() + "ociforge-planner-\(UUID().uuidString)"
        for (rel, content) in files {
            let full = path + "/" + rel
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Planner validation errors")
struct ValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var files: [String: String]
        var strict = false
        var code: PlannerError.Code
        var file: String?
        var line: Int?
        var key: String?
        var messageContains: String
        var testDescription: String { label }
    }

    static let go = ["go.mod": "module x\n\ngo 1.19\n", "main.go": "package main\nfunc main(){}\n"]
    static func with(_ extra: [String: String]) -> [String: String] { go.merging(extra) { $1 } }

    static let cases: [Case] = [
        Case(
            label: "malformed TOML", files: with(["nixpacks.toml": "[phases.build]\ncmds = [\"a\"\n"]),
            code: .syntax, file: "nixpacks.toml", line: 2, messageContains: "invalid TOML"),
        Case(
            label: "malformed JSON",
            files: with(["nixpacks.json": "{\n  \"phases\": {\n    \"build\": { \"cmds\": [\"a\",] }\n  }\n}\n"]),
            code: .syntax, file: "nixpacks.json", line: 3, messageContains: "invalid JSON"),
        Case(
            label: "JSON null", files: with(["nixpacks.json": "{\n  \"buildImage\": null\n}\n"]),
            code: .type, file: "nixpacks.json", line: 2, messageContains: "null"),
        Case(
            label: "malformed package.json", files: ["package.json": "{\n  \"name\": \"x\"\n  \"scripts\": {}\n}\n"],
            code: .syntax, file: "package.json", line: 3, messageContains: "expected ',' or '}'"),
        Case(
            label: "malformed Procfile", files: with(["Procfile": "web: ./out\nthis is not a process\n"]),
            code: .syntax, file: "Procfile", line: 2, messageContains: "name: command"),
        Case(
            label: "malformed YAML (shard.yml)", files: ["shard.yml": "name: x\ntargets: [\n"],
            code: .syntax, file: "shard.yml", messageContains: "invalid YAML"),
        Case(
            label: "unknown top-level key (strict)",
            files: with(["nixpacks.toml": "buildImage = \"x\"\nbuildimage2 = 1\n"]), strict: true,
            code: .unknownKey, file: "nixpacks.toml", line: 2, key: "buildimage2", messageContains: "unknown key"),
        Case(
            label: "unknown phase key (strict) with suggestion",
            files: with(["nixpacks.toml": "[phases.build]\ncmdz = [\"x\"]\n"]), strict: true,
            code: .unknownKey, file: "nixpacks.toml", line: 2, key: "phases.build.cmdz",
            messageContains: "did you mean \"cmds\""),
        Case(
            label: "unknown start key (strict)",
            files: with(["nixpacks.toml": "[start]\ncmd = \"x\"\nusr = \"app\"\n"]), strict: true,
            code: .unknownKey, file: "nixpacks.toml", line: 3, key: "start.usr",
            messageContains: "did you mean \"user\""),
        Case(
            label: "cmds is not an array", files: with(["nixpacks.toml": "\n[phases.build]\ncmds = \"make\"\n"]),
            code: .type, file: "nixpacks.toml", line: 3, key: "phases.build.cmds",
            messageContains: "expected an array of strings"),
        Case(
            label: "aptPkgs element is not a string",
            files: with(["nixpacks.toml": "[phases.setup]\naptPkgs = [\"curl\", 1]\n"]),
            code: .type, file: "nixpacks.toml", line: 2, key: "phases.setup.aptPkgs[1]",
            messageContains: "expected a string"),
        Case(
            label: "variables value is a table",
            files: with(["nixpacks.toml": "[variables]\nA = \"1\"\nB = { c = 1 }\n"]),
            code: .type, file: "nixpacks.toml", line: 3, key: "variables.B", messageContains: "expected a string"),
        Case(
            label: "start is not a table", files: with(["nixpacks.json": "{\"start\": \"npm start\"}"]),
            code: .type, file: "nixpacks.json", line: 1, key: "start", messageContains: "expected a table"),
        Case(
            label: "invalid apt package name",
            files: with(["nixpacks.toml": "[phases.setup]\naptPkgs = [\"curl\", \"-rf\"]\n"]),
            code: .invalidValue, file: "nixpacks.toml", line: 2, key: "phases.setup.aptPkgs[1]",
            messageContains: "must start with a letter or digit"),
        Case(
            label: "apt name with a bad character",
            files: with(["nixpacks.toml": "[phases.setup]\naptPkgs = [\"curl;rm\"]\n"]),
            code: .invalidValue, file: "nixpacks.toml", line: 2, key: "phases.setup.aptPkgs[0]",
            messageContains: "character \";\""),
        Case(
            label: "alias and canonical key together",
            files: with(["nixpacks.toml": "[phases.build]\ncmds = [\"a\"]\ncommands = [\"b\"]\n"]),
            code: .invalidValue, file: "nixpacks.toml", line: 3, key: "phases.build.commands",
            messageContains: "same setting"),
        Case(
            label: "dependsOn an unknown phase",
            files: with(["nixpacks.toml": "[phases.test]\ncmds = [\"go test\"]\ndependsOn = [\"biuld\"]\n"]),
            code: .unknownPhase, file: "nixpacks.toml", line: 3, key: "phases.test.dependsOn",
            messageContains: "\"biuld\", which is not a phase"),
        Case(
            label: "dependency cycle",
            files: with(["nixpacks.toml": "[phases.a]\ndependsOn = [\"b\"]\n[phases.b]\ndependsOn = [\"a\"]\n"]),
            code: .dependencyCycle, file: "nixpacks.toml", line: 2, key: "phases.a.dependsOn",
            messageContains: "a -> b -> a"),
        Case(
            label: "unknown provider", files: with(["nixpacks.toml": "\nproviders = [\"cobolt\"]\n"]),
            code: .unknownProvider, file: "nixpacks.toml", line: 2, key: "providers",
            messageContains: "unknown provider \"cobolt\""),
        Case(
            label: "unknown nix package",
            files: with(["nixpacks.toml": "[phases.setup]\nnixPkgs = [\"...\", \"frobnicator\"]\n"]),
            code: .unknownPackage, file: "nixpacks.toml", key: "phases.setup.nixPkgs",
            messageContains: "no Debian package is known for the Nix package \"frobnicator\""),
        Case(
            label: "versioned nix package trixie lacks",
            files: with(["nixpacks.toml": "[phases.setup]\nnixPkgs = [\"nodejs_22\"]\n"]),
            code: .unsupportedToolchain, file: "nixpacks.toml", key: "phases.setup.nixPkgs",
            messageContains: "Debian trixie does not ship (it has 20.19.2)"),
        Case(
            label: "build.strategy invalid", files: with(["ociforge.toml": "[build]\nstrategy = \"buildpacks\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "build.strategy",
            messageContains: "not a strategy"),
        Case(
            label: "build.command with dockerfile",
            files: with([
                "Dockerfile": "FROM x\n", "ociforge.toml": "[build]\nstrategy = \"dockerfile\"\ncommand = \"make\"\n"
            ]),
            code: .invalidValue, file: "ociforge.toml", line: 3, key: "build.command",
            messageContains: "only allowed with the plan strategy"),
        Case(
            label: "build.packages with dockerfile",
            files: with([
                "Dockerfile": "FROM x\n",
                "ociforge.toml": "[build]\nstrategy = \"dockerfile\"\n\n[build.packages]\nbuild = [\"make\"]\n"
            ]),
            code: .invalidValue, file: "ociforge.toml", line: 4, key: "build.packages",
            messageContains: "not allowed with the dockerfile strategy"),
        Case(
            label: "build.packages empty",
            files: with(["ociforge.toml": "[build.packages]\nbuild = []\nruntime = []\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 1, key: "build.packages",
            messageContains: "at least one package"),
        Case(
            label: "build.packages bad name",
            files: with(["ociforge.toml": "[build.packages]\nruntime = [\"lib_vips\"]\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "build.packages.runtime[0]",
            messageContains: "character \"_\""),
        Case(
            label: "build.cache-mode invalid", files: with(["ociforge.toml": "[build]\ncache-mode = \"all\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "build.cache-mode",
            messageContains: "expected min or max"),
        Case(
            label: "build.cache-to not a repository",
            files: with(["ociforge.toml": "[build]\ncache-to = [\"registry.example/team/c\", \"nocache\"]\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "build.cache-to",
            messageContains: "is not a registry repository"),
        Case(
            label: "build.env bad name", files: with(["ociforge.toml": "[build]\nenv = [\"OK\", \"NOT-OK\"]\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "build.env[1]",
            messageContains: "not a valid environment variable name"),
        Case(
            label: "options.tag invalid", files: with(["ociforge.toml": "[options]\ntag = \"-bad\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "options.tag", messageContains: "not a valid tag"),
        Case(
            label: "options.dir outside", files: with(["ociforge.toml": "[options]\ndir = \"../other\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "options.dir",
            messageContains: "relative path inside"),
        Case(
            label: "options.image invalid", files: with(["ociforge.toml": "[options]\nimage = \"Not An Image\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "options.image",
            messageContains: "not an image reference"),
        Case(
            label: "docker strategy without Dockerfile",
            files: with(["ociforge.toml": "[build]\nstrategy = \"dockerfile\"\n"]),
            code: .dockerfileNotFound, file: "ociforge.toml", line: 2, messageContains: "Dockerfile not found"),
        Case(
            label: "config enum value", files: with(["ociforge.toml": "[config.node]\npackageManager = \"npx\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "config.node.packageManager",
            messageContains: "not one of npm, pnpm, yarn, bun"),
        Case(
            label: "config type", files: with(["ociforge.toml": "[config.go]\ncgo = \"yes\"\n"]),
            code: .type, file: "ociforge.toml", line: 2, key: "config.go.cgo", messageContains: "expected a boolean"),
        Case(
            label: "config unknown provider (strict)", files: with(["ociforge.toml": "[config.goo]\nbin = \"x\"\n"]),
            strict: true,
            code: .unknownKey, file: "ociforge.toml", line: 1, key: "config.goo", messageContains: "did you mean \"go\""
        ),
        Case(
            label: "secrets bad name", files: with(["ociforge.toml": "secrets = [\"1TOKEN\"]\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 1, key: "secrets[0]",
            messageContains: "not a valid secret"),
        Case(
            label: "ociforge keys are unknown in nixpacks.toml (strict)",
            files: with(["nixpacks.toml": "exclude = [\"x\"]\n"]), strict: true,
            code: .unknownKey, file: "nixpacks.toml", line: 1, key: "exclude", messageContains: "unknown key"),
        Case(
            label: "start.user with spaces", files: with(["nixpacks.toml": "[start]\nuser = \"app user\"\n"]),
            code: .invalidValue, file: "nixpacks.toml", line: 2, key: "start.user", messageContains: "without spaces"),
        Case(
            label: "bad phase name", files: with(["nixpacks.toml": "[phases.\"my phase\"]\ncmds = []\n"]),
            code: .invalidValue, file: "nixpacks.toml", line: 1, key: "phases.my phase", messageContains: "phase names"),
        Case(
            label: "Debian-only override the suite cannot meet",
            files: [
                "Cargo.toml": "[package]\nname = \"x\"\nversion = \"0.1.0\"\nrust-version = \"1.99\"\n",
                "src/main.rs": "fn main(){}\n",
                "ociforge.toml": "[toolchains.rust]\nsource = \"debian\"\n"
            ],
            code: .unsupportedToolchain, file: "Cargo.toml", line: 4, key: "package.rust-version",
            messageContains:
                "rust >=1.99 was requested by Cargo.toml:4 package.rust-version, but Debian trixie ships rust 1.85.1, 1.97.1 (trixie-backports) and source = \"debian\" (ociforge.toml:2 toolchains.rust.source) rules out the upstream channel"
        ),
        Case(
            label: "nightly rust from Debian only",
            files: [
                "Cargo.toml": "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
                "rust-toolchain": "nightly-2024-01-01\n",
                "ociforge.toml": "[toolchains.rust]\nsource = \"debian\"\n"
            ],
            code: .unsupportedToolchain, file: "rust-toolchain", line: 1,
            messageContains: "rust nightly-2024-01-01 was requested by rust-toolchain:1"),
        Case(
            label: "PHP newer than Debian's, no upstream channel",
            files: ["composer.json": "{\n  \"require\": {\n    \"php\": \">=8.5\"\n  }\n}\n", "index.php": "<?php\n"],
            code: .unsupportedToolchain, file: "composer.json", line: 3, key: "require.php",
            messageContains: "Debian trixie ships php 8.4.28; ociforge has no upstream release channel for php"),
        Case(
            label: "version file that is not a version",
            files: ["package.json": "{}", ".nvmrc": "\n# pinned\nsome-node\n"],
            code: .invalidValue, file: ".nvmrc", line: 3,
            messageContains: "\"some-node\" is not a version or version range for node"),
        Case(
            label: "toolchain source value", files: with(["ociforge.toml": "[toolchains.node]\nsource = \"nix\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "toolchains.node.source",
            messageContains: "not one of debian, upstream"),
        Case(
            label: "toolchain mirror URL", files: with(["ociforge.toml": "[toolchains.go]\nmirror = \"ftp://m/go\"\n"]),
            code: .invalidValue, file: "ociforge.toml", line: 2, key: "toolchains.go.mirror",
            messageContains: "http(s) URL"),
        Case(
            label: "toolchain for an unknown tool (strict)",
            files: with(["ociforge.toml": "[toolchains.nodejs]\nversion = \"20\"\n"]), strict: true,
            code: .unknownKey, file: "ociforge.toml", line: 1, key: "toolchains.nodejs", messageContains: "unknown key"),
        Case(
            label: "mise tools value of the wrong type",
            files: ["package.json": "{}", "mise.toml": "[tools]\nnode = 20\n"],
            code: .type, file: "mise.toml", line: 2, key: "tools.node", messageContains: "expected a version string"),
        Case(
            label: "gradle without wrapper", files: ["build.gradle": "plugins { id 'java' }\n"],
            code: .unsupportedToolchain, file: "build.gradle", messageContains: "Gradle 4.4.1"),
        Case(
            label: "no provider", files: ["README.md": "x\n", "b.txt": "y\n"],
            code: .noProvider, messageContains: "No compatible providers found. Looked for: ruby (Gemfile)"),
        Case(
            label: "config file missing", files: with([:]),
            code: .io, messageContains: "does not exist")
    ]

    @Test("each error names file, line and key", arguments: cases)
    func validation(_ c: Case) throws {
        let app = try TempApp(c.files)
        var options = PlanOptions()
        options.strict = c.strict
        if c.label == "config file missing" { options.configPath = "missing.toml" }
        do {
            let result = try Planner.plan(appDirectory: app.path, options: options)
            Issue.record("expected \(c.code), got a plan with providers \(result.plan.providers)")
        } catch {
            #expect(error.code == c.code, "\(error)")
            if let file = c.file { #expect(error.file == file, "\(error)") }
            if let line = c.line { #expect(error.line == line, "\(error)") }
            if let key = c.key { #expect(error.key == key, "\(error)") }
            #expect(error.description.contains(c.messageContains), "\(error)")
            if let file = c.file, let line = c.line { #expect(error.description.hasPrefix("\(file):\(line)")) }
        }
    }

    @Test("unknown keys are warnings with the key path outside strict mode")
    func unknownKeyWarning() throws {
        let app = try TempApp(
            Self.with([
                "nixpacks.toml": "[phases.build]\ncmds = [\"go build\"]\ncmdz = [\"x\"]\n\n[startt]\ncmd = \"x\"\n"
            ]))
        let result = try Planner.plan(appDirectory: app.path, options: PlanOptions())
        let keys = result.warnings.compactMap(\.key)
        #expect(keys.contains("phases.build.cmdz"))
        #expect(keys.contains("startt"))
        let w = try #require(result.warnings.first { $0.key == "phases.build.cmdz" })
        #expect(w.file == "nixpacks.toml" && w.line == 3)
        #expect(result.plan.steps.first { $0.name == "build" }?.commands == ["go build"])
    }

    @Test("TOML syntax errors carry line and column")
    func tomlColumn() throws {
        let app = try TempApp(Self.with(["nixpacks.toml": "buildImage = \"x\"\nproviders = [\"go\" \"node\"]\n"]))
        #expect {
            try Planner.plan(appDirectory: app.path, options: PlanOptions())
        } throws: { e in
            guard let e = e as? PlannerError else { return false }
            return e.code == .syntax && e.line == 2 && e.column != nil
        }
    }
}
