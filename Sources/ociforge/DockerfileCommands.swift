import ArgumentParser
import Foundation
import Planner

/// `ociforge dockerfile parse|plan`: the Dockerfile front end on its own, for debugging.
struct DockerfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dockerfile",
        abstract: "Parse a Dockerfile or resolve it against a build context (prints JSON; builds nothing).",
        subcommands: [DockerfileParseCommand.self, DockerfilePlanCommand.self])
}

struct DockerfileParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "parse",
        abstract: "Print the parsed instructions (directives, flags, heredocs, exec/shell form) as JSON.")

    @Argument(help: "The Dockerfile.")
    var file: String

    func run() throws {
        let path = file
        guard FileManager.default.fileExists(atPath: path) else {
            printError("error: Dockerfile not found: \(path)")
            throw ExitCode(2)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("error: \(path): cannot read the file")
            throw ExitCode(2)
        }
        let text = String(decoding: data, as: UTF8.self)
        let ast = try runPlanner { () throws(PlannerError) in try DockerfileParser.parse(text, file: path) }
        reportPlannerWarnings(ast.warnings)
        print(DockerfileRenderer.json(ast), terminator: "")
    }
}

struct DockerfilePlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan",
        abstract: "Resolve a Dockerfile against its context: stages needed for the target, substituted instructions, COPY sources.")

    @Argument(help: "The build context directory.")
    var context: String = "."

    @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default: <context>/Dockerfile).")
    var file: String?

    @Option(name: .customLong("build-arg"), help: "Build arg KEY=VALUE (repeatable).")
    var buildArgs: [String] = []

    @Option(name: .customLong("target"), help: "The stage to build (default: the last).")
    var target: String?

    @Option(name: .customLong("platform"), help: "Target platform (default: the host's, e.g. linux/amd64).")
    var platform: String?

    @Option(name: .customLong("format"), help: "json (default) or table.")
    var format: String = "json"

    func run() throws {
        var o = DockerfileOptions()
        for a in buildArgs {
            if let eq = a.firstIndex(of: "=") {
                o.buildArgs[String(a[..<eq])] = String(a[a.index(after: eq)...])
            } else if let v = ProcessInfo.processInfo.environment[a] {
                o.buildArgs[a] = v // Docker: `--build-arg NAME` takes the value from the environment
            } else {
                throw ValidationError("--build-arg \(a): expected KEY=VALUE (or NAME set in the environment)")
            }
        }
        o.target = target
        if let platform { o.platform = platform }
        let dockerfile = file ?? (context + "/Dockerfile")
        let ctx = context
        let resolved = try runPlanner { () throws(PlannerError) in
            try Dockerfile.resolve(path: dockerfile, display: dockerfile, context: ctx, contextDisplay: ctx, options: o)
        }
        guard format == "json" || format == "table" else { throw ValidationError("--format must be json or table") }
        if format == "table" {
            print(DockerfileRenderer.summary(resolved), terminator: "")
            return
        }
        for w in resolved.warnings { printError("warning: \(w)") }
        print(DockerfileRenderer.json(resolved), terminator: "")
    }
}
