/// The start command must run in the runtime image: each program it starts (every `&&`/`;`/`|` segment, after
/// `VAR=value` assignments and `exec`) is looked up among what the runtime stage provides. A known program that
/// is missing is added as a Debian runtime package when one provides it (`npm`, `bundle`), else it is an error.
/// Programs ociforge does not know (from /app/node_modules/.bin, an app script) are left alone.
enum StartCommandCheck {
    /// Programs and the Debian package that provides them.
    static let debianProviders: [String: String] = [
        "node": "nodejs", "nodejs": "nodejs", "npm": "npm", "npx": "npm", "yarnpkg": "yarnpkg", "python3": "python3",
        "python": "python-is-python3", "ruby": "ruby", "gem": "ruby", "bundle": "bundler", "bundler": "bundler",
        "rake": "rake", "php": "php-cli", "composer": "composer", "nginx": "nginx", "erl": "erlang-base",
        "curl": "curl", "bash": "bash", "clojure": "clojure", "lein": "leiningen", "mix": "elixir"
    ]

    /// Programs an upstream toolchain puts on PATH (in the runtime image when its runtime part is installed).
    static let upstreamPrograms: [String: Set<String>] = [
        "node": ["node", "npm", "npx", "corepack"], "bun": ["bun", "bunx"], "deno": ["deno"],
        "python": ["python", "python3", "pip", "pip3"], "ruby": ["ruby", "gem", "bundle", "bundler", "rake", "irb"],
        "java": ["java"], "dotnet": ["dotnet"], "go": ["go"], "rust": ["cargo", "rustc"], "zig": ["zig"],
        "gleam": ["gleam"], "dart": ["dart"], "swift": ["swift"], "sbt": ["sbt"]
    ]

    /// Shell builtins and what every Debian base has (coreutils, dash).
    static let base: Set<String> = [
        "sh", "exec", "cd", "export", "set", "test", "[", "true", "false", "echo", "printf", "env", "cat", "ls",
        "sleep",
        "mkdir", "rm", "cp", "mv", "chmod", "head", "tail", "grep", "sed", "exit", ".", ":", "eval", "trap", "wait"
    ]

    /// Programs a deploy PATH entry provides.
    static let pathPrograms: [String: Set<String>] = ["/app/.venv/bin": ["python", "python3", "pip", "pip3"]]

    struct Outcome {
        var addedPackages: [String] = []
        var notes: [PlannerWarning] = []
    }

    /// The programs a command line starts.
    static func programs(_ command: String) -> [String] {
        var out: [String] = []
        let separators = ["&&", "||", ";", "|"]
        var segments = [command]
        for sep in separators { segments = segments.flatMap { $0.components(separatedBy: sep) } }
        for segment in segments {
            var words = segment.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
            while let first = words.first,
                first == "exec" || (first.contains("=") && !first.hasPrefix("=") && !first.hasPrefix("-"))
            {
                words.removeFirst()
            }
            if let program = words.first { out.append(program) }
        }
        return out
    }

    static func check(
        start: String, runtimeBase: String, aptPackages: [String], paths: [String],
        toolchains: [Toolchain]
    ) throws(PlannerError) -> Outcome {
        var provided = base
        for p in paths { provided.formUnion(pathPrograms[p] ?? []) }
        for (program, package) in debianProviders where aptPackages.contains(package) { provided.insert(program) }
        if aptPackages.contains(where: { $0.hasPrefix("openjdk-") }) { provided.insert("java") }
        for t in toolchains where t.source == .upstream && t.upstream?.runtime != UpstreamRequirement.RuntimePart.none {
            provided.formUnion(upstreamPrograms[t.name] ?? [])
        }
        let known = Set(debianProviders.keys).union(upstreamPrograms.values.flatMap { $0 })
        var outcome = Outcome()
        let debianRuntime = runtimeBase.hasPrefix("debian:")
        for program in programs(start)
        where !program.contains("/") && !program.hasPrefix("$") && !provided.contains(program) {
            guard known.contains(program) else { continue }
            if debianRuntime, let package = debianProviders[program] {
                outcome.addedPackages.append(package)
                outcome.notes.append(
                    PlannerWarning(
                        "the start command runs \(program), which the runtime image lacks: added the Debian package \(package) to the runtime packages"
                    ))
                provided.insert(program)
                continue
            }
            throw PlannerError(
                .invalidValue,
                "the start command `\(start)` runs \(program), which the runtime image (\(runtimeBase)) does not provide"
                    + (debianRuntime ? "" : " and cannot install (no package manager)")
                    + "; change the start command (start.cmd / --start-cmd), add what provides \(program) with [build.packages] runtime, "
                    + "or choose a Debian runtime base (start.runImage / --runtime-base debian:\(Debian.defaultSuite)-slim)",
                key: "start.cmd")
        }
        return outcome
    }
}
