import Foundation
import Testing

@testable import Planner

/// Table-driven tests of the Dockerfile front end's pieces: parser, substitution, globs, .dockerignore, errors.
enum DockerfileTestSupport {
    /// A context directory under /tmp with the given files (`dir/` entries are directories).
    static func context(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ociforge-df-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (path, content) in files {
            let full = dir + "/" + path
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
                continue
            }
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: false, encoding: .utf8)
        }
        return dir
    }

    static func resolve(
        _ dockerfile: String, files: [String: String] = [:], args: [String: String] = [:],
        target: String? = nil
    ) throws -> ResolvedDockerfile {
        var all = files
        all["Dockerfile"] = dockerfile
        let dir = try context(all)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = DockerfileOptions()
        o.buildArgs = args
        o.target = target
        o.platform = "linux/amd64"
        return try Dockerfile.resolve(path: dir + "/Dockerfile", display: "Dockerfile", context: dir, options: o)
    }

    static func error(
        _ dockerfile: String, files: [String: String] = [:], args: [String: String] = [:], target: String? = nil
    ) -> PlannerError? {
        do {
            _ = try resolve(dockerfile, files: files, args: args, target: target)
            return nil
        } catch let e as PlannerError {
            return e
        } catch {
            return nil
        }
    }
}

@Suite("Dockerfile parser")
struct DockerfileParserTests {
    @Test("continuations, comments inside them, leading whitespace, case-insensitive keywords")
    func continuations() throws {
        let ast = try DockerfileParser.parse(
            "  from scratch\nrun echo a \\\n# comment\n\n   && echo b\\\t \n  && echo c\nCMD [\"x\"]\n",
            file: "Dockerfile")
        #expect(ast.instructions.map(\.keyword) == ["FROM", "RUN", "CMD"])
        #expect(ast.instructions[1].arguments == "echo a    && echo b  && echo c")
        #expect(ast.instructions[1].line == 2)
        #expect(ast.instructions[2].line == 7)
        #expect(ast.instructions[2].json == ["x"])
        #expect(ast.warnings.count == 1)  // the empty continuation line
    }

    struct DirectiveCase: Sendable, CustomStringConvertible {
        var text: String
        var escape: String
        var syntax: String?
        var firstKeyword: String
        var description: String { text.replacingOccurrences(of: "\n", with: "⏎") }
    }

    @Test(
        "parser directives only at the top",
        arguments: [
            DirectiveCase(text: "# escape=`\nFROM scratch\n", escape: "`", syntax: nil, firstKeyword: "FROM"),
            DirectiveCase(
                text: "#syntax = docker/dockerfile:1.7\n# ESCAPE=`\nFROM scratch\n", escape: "`",
                syntax: "docker/dockerfile:1.7", firstKeyword: "FROM"),
            DirectiveCase(
                text: "# comment\n# escape=`\nFROM scratch\n", escape: "\\", syntax: nil, firstKeyword: "FROM"),
            DirectiveCase(
                text: "# unknown=1\n# escape=`\nFROM scratch\n", escape: "\\", syntax: nil, firstKeyword: "FROM"),
            DirectiveCase(text: "\n# escape=`\nFROM scratch\n", escape: "\\", syntax: nil, firstKeyword: "FROM"),
            DirectiveCase(text: "FROM scratch\n# escape=`\n", escape: "\\", syntax: nil, firstKeyword: "FROM")
        ])
    func directives(c: DirectiveCase) throws {
        let ast = try DockerfileParser.parse(c.text, file: "Dockerfile")
        #expect(ast.directives.escape == c.escape)
        #expect(ast.directives.syntax == c.syntax)
        #expect(ast.instructions.first?.keyword == c.firstKeyword)
    }

    @Test("backtick escape continues lines and leaves backslashes alone")
    func backtick() throws {
        let ast = try DockerfileParser.parse(
            "# escape=`\nFROM scratch\nCOPY a C:\\dir\\\nRUN dir `\n  c:\\\n", file: "Dockerfile")
        #expect(ast.instructions[1].arguments == "a C:\\dir\\")
        #expect(ast.instructions[2].arguments == "dir   c:\\")
    }

    @Test("flags: values, quotes, booleans, `--` ends them, ONBUILD keeps them for the trigger")
    func flags() throws {
        let ast = try DockerfileParser.parse(
            """
            FROM scratch
            RUN --mount=type=cache,target=/c --network=none echo --not-a-flag
            COPY --link --chown="1000:1000" a /b
            RUN -- --weird
            ONBUILD COPY --from=x /a /b

            """, file: "Dockerfile")
        let run = ast.instructions[1]
        #expect(
            run.flags == [
                DockerfileFlag(name: "mount", value: "type=cache,target=/c"),
                DockerfileFlag(name: "network", value: "none")
            ])
        #expect(run.arguments == "echo --not-a-flag")
        #expect(
            ast.instructions[2].flags == [
                DockerfileFlag(name: "link", value: nil), DockerfileFlag(name: "chown", value: "1000:1000")
            ])
        #expect(ast.instructions[3].flags.isEmpty && ast.instructions[3].arguments == "--weird")
        #expect(ast.instructions[4].flags.isEmpty && ast.instructions[4].arguments == "COPY --from=x /a /b")
    }

    @Test("exec form needs a JSON array of strings; otherwise shell form")
    func execForm() throws {
        let ast = try DockerfileParser.parse(
            """
            FROM scratch
            CMD ["a", "b c"]
            CMD ['a']
            CMD ["a", 'b']
            CMD [ "a" ] 
            CMD []

            """, file: "Dockerfile")
        #expect(ast.instructions[1].json == ["a", "b c"])
        #expect(ast.instructions[2].json == nil && ast.instructions[2].looksLikeJSON)
        #expect(ast.instructions[3].json == nil && ast.instructions[3].looksLikeJSON)
        #expect(ast.instructions[4].json == ["a"])
        #expect(ast.instructions[5].json == [])
    }

    @Test("heredocs: several per instruction, <<- strips tabs, quoted delimiters disable expansion")
    func heredocs() throws {
        let ast = try DockerfileParser.parse(
            "FROM scratch\nRUN <<A cat - <<-\"B\"\none\nA\n\ttwo\n\tB\nCOPY <<'C' /c\n$X\nC\nCMD [\"done\"]\n",
            file: "Dockerfile")
        let run = ast.instructions[1]
        #expect(run.heredocs.map(\.name) == ["A", "B"])
        #expect(run.heredocs[0].content == "one\n" && run.heredocs[0].expand && !run.heredocs[0].chomp)
        #expect(
            run.heredocs[1].content == "two\n" && run.heredocs[1].raw == "\ttwo\n" && !run.heredocs[1].expand
                && run.heredocs[1].chomp)
        #expect(run.endLine == 6)
        #expect(ast.instructions[2].heredocs.first?.expand == false)
        #expect(ast.instructions[3].keyword == "CMD" && ast.instructions[3].line == 10)
    }

    @Test("here-strings and << in other instructions are not heredocs")
    func notHeredocs() throws {
        let ast = try DockerfileParser.parse("FROM scratch\nRUN cat <<<word\nLABEL a=<<EOF\n", file: "Dockerfile")
        #expect(ast.instructions[1].heredocs.isEmpty)
        #expect(ast.instructions[2].heredocs.isEmpty)
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var text: String
        var message: String
        var description: String { message }
    }

    @Test(
        "parse errors name file and line",
        arguments: [
            ErrorCase(text: "FROM scratch\n\nFOO bar\n", message: "Dockerfile:3: unknown instruction: FOO"),
            ErrorCase(text: "# escape=x\nFROM scratch\n", message: "Dockerfile:1: invalid escape token 'x'"),
            ErrorCase(
                text: "# syntax=a\n# syntax=b\nFROM scratch\n",
                message: "Dockerfile:2: only one syntax parser directive"),
            ErrorCase(text: "FROM scratch\nRUN <<EOF\nx\n", message: "Dockerfile:2: unterminated heredoc"),
            ErrorCase(
                text: "FROM scratch\nRUN --mount=\"type=cache echo\n",
                message: "Dockerfile:2: unterminated quote in flag")
        ])
    func parseErrors(c: ErrorCase) {
        do {
            _ = try DockerfileParser.parse(c.text, file: "Dockerfile")
            Issue.record("expected an error: \(c.message)")
        } catch {
            #expect(error.description.hasPrefix(c.message), "\(error.description)")
        }
    }
}

@Suite("Dockerfile substitution")
struct DockerfileSubstitutionTests {
    struct Case: Sendable, CustomStringConvertible {
        var input: String
        var expected: String
        var description: String { input }
    }
    static let env = ["A": "apple", "EMPTY": "", "SP": "x y", "F": "a.tar.gz"]

    @Test(
        "word substitution as Docker documents it",
        arguments: [
            Case(input: "$A", expected: "apple"), Case(input: "${A}", expected: "apple"),
            Case(input: "${A}s", expected: "apples"),
            Case(input: "$As", expected: ""), Case(input: "${NOPE}", expected: ""), Case(input: "$", expected: "$"),
            Case(input: "a$", expected: "a$"), Case(input: "$1x", expected: "x"), Case(input: "a$-b", expected: "ab"),
            Case(input: "$$", expected: ""),
            Case(input: "${F/tar/zip}", expected: "a.zip.gz"), Case(input: "${F//a/o}", expected: "o.tor.gz"),
            Case(input: "${F/*./}", expected: "gz"),
            Case(input: "${NOPE:-d}", expected: "d"), Case(input: "${EMPTY:-d}", expected: "d"),
            Case(input: "${A:-d}", expected: "apple"),
            Case(input: "${NOPE-d}", expected: "d"), Case(input: "${EMPTY-d}", expected: ""),
            Case(input: "${A:+alt}", expected: "alt"), Case(input: "${EMPTY:+alt}", expected: ""),
            Case(input: "${NOPE:+alt}", expected: ""),
            Case(input: "${EMPTY+alt}", expected: "alt"), Case(input: "${NOPE+alt}", expected: ""),
            Case(input: "${NOPE:-${A}}", expected: "apple"), Case(input: "${NOPE:-a b}", expected: "a b"),
            Case(input: "'$A'", expected: "$A"), Case(input: "\"$A\"", expected: "apple"),
            Case(input: "\\$A", expected: "$A"),
            Case(input: "\"\\$A\"", expected: "$A"), Case(input: "\"a\\\"b\"", expected: "a\"b"),
            Case(input: "\"a\\nb\"", expected: "a\\nb"),
            Case(input: "a\\ b", expected: "a b"), Case(input: "${F%.gz}", expected: "a.tar"),
            Case(input: "${F%%.*}", expected: "a"),
            Case(input: "${F#*.}", expected: "tar.gz"), Case(input: "${F##*.}", expected: "gz"),
            Case(input: "${SP}", expected: "x y")
        ])
    func word(c: Case) throws {
        #expect(try DockerfileWords().word(c.input, Self.env) == c.expected)
    }

    @Test("COPY heredoc bodies: quotes are ordinary, the escape character is dropped")
    func heredocBody() throws {
        #expect(
            try DockerfileWords().heredoc("say \"$A\" 'x'\nprintf \"a\\nb\"\n", Self.env)
                == "say \"apple\" 'x'\nprintf \"anb\"\n")
    }

    @Test("backtick escape")
    func backtick() throws {
        #expect(try DockerfileWords(escape: "`").word("`$A C:\\x", Self.env) == "$A C:\\x")
    }

    @Test("words split unquoted substitutions, not quoted ones")
    func words() throws {
        let w = DockerfileWords()
        #expect(try w.words("$SP \"$SP\" 'a b' c\\ d", Self.env) == ["x", "y", "x y", "a b", "c d"])
        #expect(try w.words("  80   443/tcp ", Self.env) == ["80", "443/tcp"])
        #expect(try w.words("\"\"", Self.env) == [""])
    }

    @Test(
        "substitution errors",
        arguments: [
            "${A", "${}", "${:-x}", "${A:x}", "${A*}", "${A:#x}", "'open", "\"open", "${NOPE:?must be set}", "${NOPE?}"
        ])
    func errors(input: String) {
        #expect(throws: DockerfileWords.Failure.self) { try DockerfileWords().word(input, Self.env) }
    }

    @Test("${VAR:?message} reports the message")
    func required() {
        do {
            _ = try DockerfileWords().word("${NOPE:?set NOPE}", [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "NOPE: set NOPE")
        }
    }
}

@Suite("Dockerfile globs and .dockerignore")
struct DockerfileMatchTests {
    struct GlobCase: Sendable, CustomStringConvertible {
        var pattern: String
        var name: String
        var match: Bool
        var description: String { "\(pattern) ~ \(name)" }
    }

    /// Go's filepath.Match test table (the cases that apply to Unix paths).
    @Test(
        "filepath.Match semantics",
        arguments: [
            GlobCase(pattern: "abc", name: "abc", match: true), GlobCase(pattern: "*", name: "abc", match: true),
            GlobCase(pattern: "*c", name: "abc", match: true), GlobCase(pattern: "a*", name: "a", match: true),
            GlobCase(pattern: "a*", name: "abc", match: true), GlobCase(pattern: "a*", name: "ab/c", match: false),
            GlobCase(pattern: "a*/b", name: "abc/b", match: true),
            GlobCase(pattern: "a*/b", name: "a/c/b", match: false),
            GlobCase(pattern: "a*b*c*d*e*/f", name: "axbxcxdxe/f", match: true),
            GlobCase(pattern: "a*b*c*d*e*/f", name: "axbxcxdxexxx/f", match: true),
            GlobCase(pattern: "a*b*c*d*e*/f", name: "axbxcxdxe/xxx/f", match: false),
            GlobCase(pattern: "a*b?c*x", name: "abxbbxdbxebxczzx", match: true),
            GlobCase(pattern: "a*b?c*x", name: "abxbbxdbxebxczzy", match: false),
            GlobCase(pattern: "ab[c]", name: "abc", match: true),
            GlobCase(pattern: "ab[b-d]", name: "abc", match: true),
            GlobCase(pattern: "ab[e-g]", name: "abc", match: false),
            GlobCase(pattern: "ab[^c]", name: "abc", match: false),
            GlobCase(pattern: "ab[^b-d]", name: "abc", match: false),
            GlobCase(pattern: "ab[^e-g]", name: "abc", match: true),
            GlobCase(pattern: "a\\*b", name: "a*b", match: true),
            GlobCase(pattern: "a\\*b", name: "ab", match: false), GlobCase(pattern: "a?b", name: "a☺b", match: true),
            GlobCase(pattern: "a[^a]b", name: "a☺b", match: true),
            GlobCase(pattern: "a???b", name: "a☺b", match: false),
            GlobCase(pattern: "[a-ζ]*", name: "α", match: true), GlobCase(pattern: "*[a-ζ]", name: "A", match: false),
            GlobCase(pattern: "a?b", name: "a/b", match: false), GlobCase(pattern: "a*b", name: "a/b", match: false),
            GlobCase(pattern: "[\\]a]", name: "]", match: true), GlobCase(pattern: "[\\-]", name: "-", match: true),
            GlobCase(pattern: "[x\\-]", name: "x", match: true), GlobCase(pattern: "[x\\-]", name: "-", match: true),
            GlobCase(pattern: "[x\\-]", name: "z", match: false), GlobCase(pattern: "[\\-x]", name: "a", match: false),
            GlobCase(pattern: "*x", name: "xxx", match: true)
        ])
    func glob(c: GlobCase) {
        #expect(DockerfileGlob.match(c.pattern, c.name) == c.match)
    }

    @Test(
        "malformed patterns (Go's ErrBadPattern)",
        arguments: ["[", "[^", "[a-", "a\\", "[]a]", "[x-]", "[-]", "[a-b-c]"])
    func badPatterns(p: String) {
        #expect(!DockerfileGlob.valid(p))
    }

    struct IgnoreCase: Sendable, CustomStringConvertible {
        var patterns: String
        var path: String
        var excluded: Bool
        var description: String { "\(patterns.replacingOccurrences(of: "\n", with: ",")) : \(path)" }
    }

    @Test(
        "Docker's .dockerignore rules",
        arguments: [
            IgnoreCase(patterns: "*.md", path: "README.md", excluded: true),
            IgnoreCase(patterns: "*.md", path: "docs/README.md", excluded: false),
            IgnoreCase(patterns: "**/*.md", path: "docs/a/README.md", excluded: true),
            IgnoreCase(patterns: "**/*.md", path: "README.md", excluded: true),
            IgnoreCase(patterns: "docs", path: "docs/a/b.txt", excluded: true),
            IgnoreCase(patterns: "docs/", path: "docs/a.txt", excluded: true),
            IgnoreCase(patterns: "/docs", path: "docs/a.txt", excluded: true),
            IgnoreCase(patterns: "./docs/../src", path: "src/x", excluded: true),
            IgnoreCase(patterns: "docs\n!docs/keep.txt", path: "docs/keep.txt", excluded: false),
            IgnoreCase(patterns: "docs\n!docs/keep.txt", path: "docs/other.txt", excluded: true),
            IgnoreCase(patterns: "!keep\n*", path: "keep", excluded: true),
            IgnoreCase(patterns: "*\n!keep", path: "keep", excluded: false),
            IgnoreCase(patterns: "*/temp*", path: "somedir/temporary.txt", excluded: true),
            IgnoreCase(patterns: "*/*/temp*", path: "a/b/temp", excluded: true),
            IgnoreCase(patterns: "temp?", path: "tempa", excluded: true),
            IgnoreCase(patterns: "temp?", path: "temp", excluded: false),
            IgnoreCase(patterns: "node_modules", path: "src/node_modules/x", excluded: false),
            IgnoreCase(patterns: "**/node_modules", path: "src/node_modules/x", excluded: true),
            IgnoreCase(patterns: "dir/**", path: "dir/a/b", excluded: true),
            IgnoreCase(patterns: "a/**/b", path: "a/b", excluded: true),
            IgnoreCase(patterns: "a/**/b", path: "a/x/y/b", excluded: true),
            IgnoreCase(patterns: "# comment\n\n  *.log  ", path: "x.log", excluded: true),
            IgnoreCase(patterns: "  # x", path: "# x", excluded: true),
            IgnoreCase(patterns: "\u{FEFF}*.md", path: "a.md", excluded: true),
            IgnoreCase(patterns: "[a-c].txt", path: "b.txt", excluded: true),
            IgnoreCase(patterns: "[!a].txt", path: "a.txt", excluded: true),
            IgnoreCase(patterns: "[^a].txt", path: "a.txt", excluded: false),
            IgnoreCase(patterns: "[^a].txt", path: "b.txt", excluded: true)
        ])
    func dockerignore(c: IgnoreCase) throws {
        let m = try DockerignoreMatcher(text: c.patterns, file: ".dockerignore")
        #expect(m.excludes(c.path) == c.excluded)
    }

    @Test("an excluded directory is still walked for re-included files; excluded sources cannot be copied")
    func contextTree() throws {
        let dir = try DockerfileTestSupport.context([
            ".dockerignore": "docs\n!docs/keep.md\n*.tmp\n", "docs/keep.md": "k", "docs/drop.md": "d",
            "a.tmp": "t", "b.txt": "b", "empty/": ""
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tree = try DockerfileContextTree(root: dir)
        #expect(tree.listing == [".dockerignore", "b.txt", "docs/", "docs/keep.md", "empty/"])
    }
}

@Suite("Dockerfile semantics")
struct DockerfileSemanticsTests {
    typealias S = DockerfileTestSupport

    @Test("ENTRYPOINT resets a CMD inherited from the base stage, not one set in the same stage")
    func entrypointResetsCmd() throws {
        let b = try S.resolve(
            "FROM scratch AS base\nCMD [\"serve\"]\nFROM base AS a\nENTRYPOINT [\"/e\"]\nFROM base\nCMD [\"x\"]\nENTRYPOINT [\"/e\"]\n",
            target: "a")
        let a = try #require(b.config(ofStage: 1))
        #expect(a.cmd == nil && a.entrypoint == ["/e"])
        let full = try S.resolve("FROM scratch AS base\nCMD [\"serve\"]\nFROM base\nCMD [\"x\"]\nENTRYPOINT [\"/e\"]\n")
        #expect(full.config(ofStage: 1)?.cmd == ["x"])
    }

    @Test("SHELL applies to later shell-form RUN, CMD and ENTRYPOINT only")
    func shell() throws {
        let b = try S.resolve("FROM scratch\nRUN a\nSHELL [\"/bin/bash\", \"-c\"]\nRUN b\nRUN [\"c\"]\nCMD d\n")
        let runs = b.finalStage.steps.compactMap(\.run)
        #expect(runs.map(\.argv) == [["/bin/sh", "-c", "a"], ["/bin/bash", "-c", "b"], ["c"]])
        #expect(b.finalStage.config.cmd == ["/bin/bash", "-c", "d"])
    }

    @Test("RUN sees args not shadowed by ENV, proxies without ARG; args never reach the config")
    func runEnvironment() throws {
        let b = try S.resolve(
            "FROM scratch\nARG A=1\nARG B=2\nENV B=env\nARG C\nRUN x\n", args: ["HTTP_PROXY": "http://p:3128", "C": "c"]
        )
        let run = try #require(b.finalStage.steps.last?.run)
        #expect(run.args == ["A=1", "C=c", "HTTP_PROXY=http://p:3128"])
        #expect(run.env == ["B=env"])
        #expect(b.finalStage.config.env == ["B=env"])
        #expect(b.warnings.isEmpty)
    }

    @Test("undeclared build args warn; proxy args do not")
    func unusedArgs() throws {
        let b = try S.resolve("FROM scratch\n", args: ["X": "1", "no_proxy": "localhost"])
        #expect(b.warnings == ["Dockerfile: build-arg X not consumed: no ARG instruction declares it"])
    }

    @Test("substitution errors in a stage the target does not need do not surface")
    func prunedSubstitution() throws {
        let b = try S.resolve("FROM scratch AS broken\nENV A=${MISSING:?required}\nFROM scratch\nENV B=1\n")
        #expect(b.stages.map(\.index) == [1])
        let e = S.error("FROM scratch AS broken\nENV A=${MISSING:?required}\nFROM broken\n")
        #expect(e?.line == 2 && e?.message == "ENV: MISSING: required")
    }

    @Test("--target keeps only the stages it needs; errors in other stages do not surface")
    func pruning() throws {
        let text = "FROM scratch AS a\nCOPY missing /\nFROM scratch AS b\nFROM b AS c\nCOPY --from=a / /\nFROM b AS d\n"
        let d = try S.resolve(text, target: "d")
        #expect(d.stages.map(\.index) == [1, 3])
        #expect(d.finalStage.dependsOn == [1])
        let e = S.error(text, target: "c")
        #expect(e?.code == .missingSource && e?.line == 2)
    }

    @Test("FROM uses meta args; an unknown stage name is an image; images and secrets are collected")
    func fromAndImages() throws {
        let b = try S.resolve(
            "ARG V=18\nFROM node:${V}-slim AS build\nRUN --mount=type=secret,id=npm x\nFROM build\nCOPY --from=alpine:3 /etc/os-release /\nRUN --mount=type=bind,from=build,target=/b y\n"
        )
        #expect(b.images == ["alpine:3", "node:18-slim"])
        #expect(b.secrets == ["npm"])
        #expect(b.stages[0].base == DockerfileBase(kind: .image, reference: "node:18-slim", stage: nil))
        #expect(b.stages[1].base == DockerfileBase(kind: .stage, reference: nil, stage: 0))
    }

    @Test("base image configs supply Env and WorkingDir for substitution and relative paths")
    func baseImageConfig() throws {
        var root = DockerfileImageConfig()
        root.env = ["NODE_VERSION=18.20.4", "PATH=/usr/bin"]
        root.workingDir = "/home/node"
        let dir = try S.context(["Dockerfile": "FROM node:18\nWORKDIR app\nENV V=$NODE_VERSION\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = DockerfileOptions()
        o.baseImages = ["node:18": root]
        let b = try Dockerfile.resolve(path: dir + "/Dockerfile", display: "Dockerfile", context: dir, options: o)
        let c = try #require(b.config(ofStage: 0, root: root))
        #expect(c.workingDir == "/home/node/app")
        #expect(c.env == ["NODE_VERSION=18.20.4", "PATH=/usr/bin", "V=18.20.4"])
    }

    @Test("ONBUILD triggers of a known base image run first; the image does not keep them; RUN sees the full env")
    func imageTriggers() throws {
        var root = DockerfileImageConfig()
        root.onBuild = ["ENV FROM_TRIGGER=yes", "COPY app.txt /app/"]
        root.env = ["HOME=/root"]
        let dir = try S.context(["Dockerfile": "FROM base:1\nARG A=1\nRUN env\nONBUILD RUN make\n", "app.txt": "a"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = DockerfileOptions()
        o.baseImages = ["base:1": root]
        let b = try Dockerfile.resolve(path: dir + "/Dockerfile", display: "Dockerfile", context: dir, options: o)
        let steps = b.finalStage.steps
        #expect(
            steps.map(\.instruction) == ["ENV FROM_TRIGGER=yes", "COPY app.txt /app/", "RUN env", "ONBUILD RUN make"])
        #expect(steps[0].line == 1 && steps[1].line == 1)
        let c = try #require(b.config(ofStage: 0, root: root))
        #expect(c.onBuild == ["RUN make"])
        #expect(
            c.env == [
                "HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_TRIGGER=yes"
            ])
        let run = try #require(steps[2].run)
        #expect(
            run.environment(root: root) == [
                "HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_TRIGGER=yes",
                "A=1"
            ])
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var dockerfile: String
        var files: [String: String] = [:]
        var code: PlannerError.Code
        var line: Int
        var contains: String
        var description: String { contains }
    }

    @Test(
        "semantic errors name the line",
        arguments: [
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --chown= a /\n", files: ["a": ""], code: .invalidValue, line: 2,
                contains: "--chown=: expected user[:group]"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --link=maybe a /\n", files: ["a": ""], code: .invalidValue, line: 2,
                contains: "--link expects true or false"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --from=x --from=y /a /\n", code: .unknownFlag, line: 2,
                contains: "duplicate flag"),
            ErrorCase(
                dockerfile: "FROM scratch\nADD --from=x /a /\n", code: .unknownFlag, line: 2,
                contains: "unknown flag: --from"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --chmod=999 a /\n", files: ["a": ""], code: .invalidValue, line: 2,
                contains: "invalid chmod parameter: '999'"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --chmod=17777 a /\n", files: ["a": ""], code: .invalidValue, line: 2,
                contains: "invalid chmod parameter"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY a\n", files: ["a": ""], code: .syntax, line: 2,
                contains: "requires at least two arguments"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY [\"a\", \"b\"\n", code: .invalidValue, line: 2,
                contains: "COPY [a,: malformed pattern"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --chown=bob --from=0 /a /\n", code: .invalidValue, line: 2,
                contains: "not an earlier stage"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --chown=a:b:c x /\n", files: ["x": ""], code: .invalidValue, line: 2,
                contains: "expected user[:group]"),
            ErrorCase(
                dockerfile: "FROM scratch\nADD git@github.com:a/b.git /src\n", code: .offline, line: 2,
                contains: "builds offline"),
            ErrorCase(
                dockerfile: "FROM scratch\nADD --checksum=sha256:00 x /x\n", code: .offline, line: 2,
                contains: "builds offline"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --network=bridge x\n", code: .invalidValue, line: 2,
                contains: "--network=bridge"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --security=insecure x\n", code: .invalidValue, line: 2,
                contains: "insecure"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=type=cache x\n", code: .invalidValue, line: 2,
                contains: "needs target="),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=type=nfs,target=/x x\n", code: .invalidValue, line: 2,
                contains: "unknown type"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=type=bind,source=nope,target=/x x\n", code: .missingSource,
                line: 2, contains: "not in the build context"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=type=secret x\n", code: .invalidValue, line: 2,
                contains: "needs id="),
            ErrorCase(dockerfile: "FROM scratch\nRUN\n", code: .syntax, line: 2, contains: "RUN requires a command"),
            ErrorCase(
                dockerfile: "FROM scratch\nHEALTHCHECK --interval=5 CMD x\n", code: .invalidValue, line: 2,
                contains: "--interval=5"),
            ErrorCase(
                dockerfile: "FROM scratch\nHEALTHCHECK --retries=-1 CMD x\n", code: .invalidValue, line: 2,
                contains: "--retries"),
            ErrorCase(
                dockerfile: "FROM scratch\nHEALTHCHECK --interval=1s NONE\n", code: .syntax, line: 2,
                contains: "NONE takes no"),
            ErrorCase(
                dockerfile: "FROM scratch\nHEALTHCHECK curl x\n", code: .syntax, line: 2,
                contains: "expects NONE or CMD"),
            ErrorCase(
                dockerfile: "FROM scratch\nSTOPSIGNAL SIGFOO\n", code: .invalidValue, line: 2, contains: "not a signal"),
            ErrorCase(
                dockerfile: "FROM scratch\nONBUILD ONBUILD RUN x\n", code: .syntax, line: 2, contains: "ONBUILD ONBUILD"
            ),
            ErrorCase(
                dockerfile: "FROM scratch\nONBUILD FROM x\n", code: .syntax, line: 2,
                contains: "isn't allowed as an ONBUILD trigger"),
            ErrorCase(
                dockerfile: "FROM scratch\nENV\n", code: .syntax, line: 2, contains: "requires at least one argument"),
            ErrorCase(dockerfile: "FROM scratch\nENV A\n", code: .syntax, line: 2, contains: "missing a value"),
            ErrorCase(dockerfile: "FROM scratch\nENV A=1 B\n", code: .syntax, line: 2, contains: "not name=value"),
            ErrorCase(dockerfile: "FROM scratch\nARG 1X\n", code: .invalidValue, line: 2, contains: "invalid name"),
            ErrorCase(dockerfile: "FROM scratch\nVOLUME [\"\"]\n", code: .syntax, line: 2, contains: "empty string"),
            ErrorCase(
                dockerfile: "FROM scratch\nEXPOSE 70000\n", code: .invalidValue, line: 2, contains: "invalid port"),
            ErrorCase(
                dockerfile: "FROM scratch\nEXPOSE 80/http\n", code: .invalidValue, line: 2,
                contains: "invalid proto: http"),
            ErrorCase(dockerfile: "FROM Node:18\n", code: .invalidValue, line: 1, contains: "must be lowercase"),
            ErrorCase(
                dockerfile: "FROM scratch AS 1st\n", code: .invalidValue, line: 1, contains: "invalid stage name"),
            ErrorCase(
                dockerfile: "ARG X\nRUN x\nFROM scratch\n", code: .syntax, line: 2,
                contains: "no build stage in current context"),
            ErrorCase(
                dockerfile: "FROM scratch AS\n", code: .syntax, line: 1,
                contains: "FROM requires either one or three arguments"),
            ErrorCase(
                dockerfile: "FROM --platform=linux scratch\n", code: .invalidValue, line: 1,
                contains: "--platform=linux"),
            ErrorCase(dockerfile: "FROM $EMPTY\n", code: .invalidValue, line: 1, contains: "should not be blank"),
            ErrorCase(dockerfile: "ARG A\n", code: .syntax, line: 1, contains: "no FROM"),
            ErrorCase(
                dockerfile: "FROM scratch AS x\nCOPY --from=x /a /\n", code: .invalidValue, line: 2,
                contains: "refers to the current stage"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY link /\n", files: ["link": ""], code: .missingSource, line: 2,
                contains: "leaves the build context"),
            ErrorCase(
                dockerfile: "FROM scratch\nLABEL a=${B:?required}\n", code: .invalidValue, line: 2,
                contains: "B: required"),
            ErrorCase(
                dockerfile: "FROM scratch\nLABEL a=<<EOF\nb\nEOF\n", code: .unknownInstruction, line: 3,
                contains: "unknown instruction: b"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --from=$X /a /\n", code: .invalidValue, line: 2,
                contains: "variable expansion is not supported for --from"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=from=$X,target=/x x\n", code: .invalidValue, line: 2,
                contains: "'from' doesn't support variable expansion"),
            ErrorCase(
                dockerfile: "FROM scratch AS a\nCOPY --from=later /a /\nFROM a AS later\n", code: .invalidValue,
                line: 2, contains: "needs to be defined before current stage"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY https://example.com/a /a\n", code: .invalidValue, line: 2,
                contains: "source can't be a URL for COPY"),
            ErrorCase(
                dockerfile: "FROM scratch\nRUN --mount=type=tmpfs,target=/ x\n", code: .invalidValue, line: 2,
                contains: "invalid mount target"),
            ErrorCase(
                dockerfile: "FROM scratch\nCMD [\"a\", 1]\n", code: .syntax, line: 2,
                contains: "arrays must be comprised of strings only"),
            ErrorCase(
                dockerfile: "FROM scratch\nCOPY --exclude=[ a /\n", files: ["a": ""], code: .syntax, line: 0,
                contains: "invalid .dockerignore pattern")
        ])
    func errors(c: ErrorCase) throws {
        var files = c.files
        var linkTarget: String? = nil
        if files["link"] != nil {
            files["link"] = nil
            linkTarget = "../outside"
        }
        let dockerfile = c.dockerfile
        if let linkTarget {
            let dir = try S.context(["Dockerfile": dockerfile])
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: linkTarget)
            do {
                _ = try Dockerfile.resolve(
                    path: dir + "/Dockerfile", display: "Dockerfile", context: dir, options: DockerfileOptions())
                Issue.record("expected an error")
            } catch {
                #expect(error.code == c.code && error.line == c.line && error.message.contains(c.contains), "\(error)")
            }
            return
        }
        let e = try #require(S.error(dockerfile, files: files), "expected an error containing \(c.contains)")
        #expect(e.code == c.code, "\(e)")
        #expect(c.line == 0 || (e.file == "Dockerfile" && e.line == c.line), "\(e)")
        #expect(e.message.contains(c.contains), "\(e)")
    }

    @Test("a missing Dockerfile names the path")
    func missingDockerfile() throws {
        let dir = try S.context(["app.js": ""])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: PlannerError(.dockerfileNotFound, "Dockerfile not found: sub/Dockerfile.prod")) {
            try Dockerfile.resolve(
                path: dir + "/sub/Dockerfile.prod", display: "sub/Dockerfile.prod", context: dir,
                options: DockerfileOptions())
        }
    }
}

/// The issue's Node app: a multi-stage Dockerfile.prod selected through lttle's `[docker]` block and through
/// Compartment's `strategy = "dockerfile"`, planned by `Planner.plan`; snapshots in Fixtures/dockerfile/node-prod-*.
@Suite("Dockerfile strategy in the Planner")
struct DockerfilePlannerTests {
    struct PlanFixtureOptions: Decodable {
        var buildArgs: [String: String]?
        var dockerfile: String?
        var target: String?
    }

    static func plan(_ name: String) throws -> PlanResult {
        let dir = DockerfileFixtures.root + "/" + name
        let f = try JSONDecoder().decode(
            PlanFixtureOptions.self,
            from: try #require(FileManager.default.contents(atPath: dir + "/plan-options.json")))
        var o = PlanOptions()
        o.buildArgs = f.buildArgs ?? [:]
        o.dockerfile = f.dockerfile
        o.target = f.target
        o.platform = "linux/amd64"
        return try Planner.plan(appDirectory: dir + "/app", options: o)
    }

    @Test("plan and resolved Dockerfile match the snapshots", arguments: ["node-prod-lttle", "node-prod-compartment"])
    func snapshots(name: String) throws {
        let result = try Self.plan(name)
        let dir = DockerfileFixtures.root + "/" + name
        let planText = PlanRenderer.json(result.plan)
        let build = try #require(result.dockerfile)
        let buildText = DockerfileRenderer.json(build)
        if DockerfileFixtures.updating {
            try planText.write(toFile: dir + "/expected-plan.json", atomically: true, encoding: .utf8)
            try buildText.write(toFile: dir + "/expected-dockerfile.json", atomically: true, encoding: .utf8)
            return
        }
        #expect(planText == (try String(contentsOfFile: dir + "/expected-plan.json", encoding: .utf8)))
        #expect(buildText == (try String(contentsOfFile: dir + "/expected-dockerfile.json", encoding: .utf8)))
    }

    @Test("the runtime stage gets ENV from the args, the builder's files, port 3000 and npm start")
    func nodeProd() throws {
        for name in ["node-prod-lttle", "node-prod-compartment"] {
            let result = try Self.plan(name)
            #expect(result.plan.strategy == .dockerfile)
            #expect(result.plan.dockerfile?.path == "Dockerfile.prod")
            #expect(result.plan.dockerfile?.args == ["ENVIRONMENT": "production", "BUILD_VERSION": "1.2.3"])
            #expect(result.plan.caches == ["root-npm": Cache(directory: "/root/.npm", sharing: .shared)])
            let build = try #require(result.dockerfile)
            #expect(build.stages.map(\.name) == ["builder", nil])
            #expect(build.images == ["node:18-bookworm-slim"])
            let builder = build.stages[0]
            #expect(
                builder.steps.compactMap(\.run).map(\.argv) == [
                    ["/bin/sh", "-c", "npm ci"], ["/bin/sh", "-c", "npm run build"]
                ])
            let runtime = try #require(build.config(ofStage: 1, root: DockerfileImageConfig()))
            // A base without PATH gets Docker's default one.
            #expect(
                runtime.env == [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_ENV=production",
                    "BUILD_VERSION=1.2.3"
                ])
            #expect(runtime.exposedPorts == ["3000/tcp"])
            #expect(runtime.cmd == ["npm", "start"])
            #expect(runtime.workingDir == "/app")
            let copies = build.stages[1].steps.compactMap(\.copy)
            #expect(copies.allSatisfy { $0.from == DockerfileSourceRef(stage: 0, image: nil) })
            #expect(copies.map(\.destination) == ["/app/", "/app/node_modules", "/app/dist"])
            // The lockfile reaches the builder; node_modules and dist are excluded from the context.
            #expect(builder.steps[1].copy?.entries.map(\.source) == ["package.json", "package-lock.json"])
            // The local `file:` dependency npm ci installs (so that the builder has a node_modules to copy).
            #expect(
                builder.steps[2].copy?.entries.map(\.source) == [
                    "vendor", "vendor/greet", "vendor/greet/index.js", "vendor/greet/package.json"
                ])
            #expect(!build.contextFiles.contains { $0.hasPrefix("node_modules") || $0.hasPrefix("dist") })
            let summary = DockerfileRenderer.summary(build)
            #expect(summary.contains("stage 0 builder from node:18-bookworm-slim (line 4)\n"))
            #expect(summary.contains("  8    RUN --mount=type=cache,target=/root/.npm npm ci [cache:/root/.npm]\n"))
            #expect(summary.contains("  19   COPY --from=builder /app/dist ./dist [from stage 0 → /app/dist]\n"))
        }
    }

    @Test("--target and a frozen plan: resolveDockerfile re-resolves from the stored reference")
    func frozen() throws {
        var result = try Self.plan("node-prod-lttle")
        result.plan.frozen = true
        var o = PlanOptions()
        o.target = "builder"
        o.buildArgs = ["BUILD_VERSION": "2.0.0"]
        let build = try Planner.resolveDockerfile(
            appDirectory: DockerfileFixtures.root + "/node-prod-lttle/app", plan: result.plan, options: o)
        #expect(build.stages.map(\.index) == [0])
        #expect(build.buildArgs["BUILD_VERSION"] == "2.0.0" && build.buildArgs["ENVIRONMENT"] == "production")
        #expect(build.target == "builder")
    }

    @Test("a broken Dockerfile fails planning with file and line; a missing one names its path")
    func planErrors() throws {
        let dir = try DockerfileTestSupport.context([
            "Dockerfile": "FROM scratch\nCOPY nope /\n", "ociforge.toml": "[build]\nstrategy = \"dockerfile\"\n"
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(
            throws: PlannerError(
                .missingSource, "COPY failed: \"nope\" not found: no such file or directory in the build context",
                file: "Dockerfile", line: 2)
        ) {
            try Planner.plan(appDirectory: dir, options: PlanOptions())
        }
        var o = PlanOptions()
        o.dockerfile = "Dockerfile.prod"
        do {
            _ = try Planner.plan(appDirectory: dir, options: o)
            Issue.record("expected an error")
        } catch {
            #expect(
                error.code == .dockerfileNotFound && error.message.hasPrefix("Dockerfile not found: Dockerfile.prod"))
        }
    }
}

@Suite("Dockerfile COPY --from resolution")
struct DockerfileCopyFromTests {
    @Test("stage sources resolve inside the stage's rootfs: directories, globs, symlinked parents, missing paths")
    func resolveInStage() throws {
        let rootfs = try DockerfileTestSupport.context([
            "app/dist/index.js": "i", "app/dist/lib/util.js": "u", "app/package.json": "{}",
            "usr/lib/libx.so.1": "x", "usr/lib/liby.so.1": "y", "etc/os-release": "o"
        ])
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/lib", withDestinationPath: "usr/lib")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/app/current", withDestinationPath: "/app/dist")
        let build = try DockerfileTestSupport.resolve(
            """
            FROM scratch AS build
            FROM scratch
            WORKDIR /srv
            COPY --from=build /app/dist ./dist
            COPY --from=build /lib/lib*.so.1 /usr/local/lib/
            COPY --from=build /app/current /cur/
            COPY --from=build /app/package.json /app/missing.txt ./

            """)
        let copies = build.finalStage.steps.compactMap(\.copy)
        #expect(copies.allSatisfy { $0.entries.isEmpty && $0.from == DockerfileSourceRef(stage: 0, image: nil) })
        let dist = try DockerfileCopyRules.resolve(copies[0], root: rootfs)
        #expect(
            dist.map { "\($0.source)>\($0.destination)" } == [
                "app/dist>/srv/dist", "app/dist/index.js>/srv/dist/index.js",
                "app/dist/lib>/srv/dist/lib", "app/dist/lib/util.js>/srv/dist/lib/util.js"
            ])
        let libs = try DockerfileCopyRules.resolve(copies[1], root: rootfs)
        #expect(
            libs.map { "\($0.source)>\($0.destination)" } == [
                "usr/lib/libx.so.1>/usr/local/lib/libx.so.1", "usr/lib/liby.so.1>/usr/local/lib/liby.so.1"
            ])
        let cur = try DockerfileCopyRules.resolve(copies[2], root: rootfs)
        #expect(cur.first?.source == "app/dist" && cur.count == 4)
        #expect(
            throws: DockerfileCopyRules.Failure(
                code: .missingSource,
                message: "COPY failed: \"/app/missing.txt\" not found: no such file or directory in stage 0")
        ) {
            try DockerfileCopyRules.resolve(copies[3], root: rootfs)
        }
    }
}
