/// The Planner module's one error type. Every error names what it can: the file (relative to the app directory
/// when it is inside it), the 1-based line and column, and the key path (`phases.install.cmds`).
public struct PlannerError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case syntax  // malformed TOML / JSON / YAML
        case type  // a value of the wrong type
        case unknownKey  // unknown key (error only in strict mode)
        case invalidValue  // a value outside its allowed set or grammar
        case unknownPhase  // dependsOn names a phase that does not exist
        case dependencyCycle  // phases depend on each other in a cycle
        case noProvider  // no provider matched
        case unknownProvider  // `providers` names an unknown provider
        // no source (the Debian suite, its backports, an upstream channel) can supply the request
        case unsupportedToolchain
        case unknownPackage  // a nixPkgs name with no Debian mapping
        case io  // a file could not be read
        case invalidOption  // a CLI option or environment variable is malformed
        case dockerfileNotFound
        case unknownInstruction  // a Dockerfile keyword that is not an instruction
        case unknownFlag  // a Dockerfile flag the instruction does not take
        case missingSource  // a COPY/ADD source that is not in the build context (or is excluded)
        case offline  // something that would need the network (ADD <url>, RUN --mount=type=ssh)
        case ambiguousApp  // a workspace/monorepo with several apps and none chosen (or an unknown one)
    }

    public var code: Code
    public var message: String
    public var file: String?
    public var line: Int?
    public var column: Int?
    public var key: String?
    /// The underlying error this one wraps (a parser's or encoder's own error), kept typed.
    public var cause: (any Error)?

    public init(
        _ code: Code, _ message: String, file: String? = nil, line: Int? = nil, column: Int? = nil,
        key: String? = nil, cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.cause = cause
    }

    /// Equal when every located field is equal and the causes render the same.
    public static func == (a: PlannerError, b: PlannerError) -> Bool {
        a.code == b.code && a.message == b.message && a.file == b.file && a.line == b.line && a.column == b.column
            && a.key == b.key && a.cause.map { "\($0)" } == b.cause.map { "\($0)" }
    }

    /// `file:line:column: key: message: cause`, leaving out the parts that are unknown.
    public var description: String {
        var prefix = ""
        if let file {
            prefix = file
            if let line {
                prefix += ":\(line)"
                if let column { prefix += ":\(column)" }
            }
            prefix += ": "
        }
        if let key { prefix += "\(key): " }
        return prefix + message + (cause.map { ": \($0)" } ?? "")
    }
}

/// A non-fatal diagnostic (unknown keys outside strict mode, ignored settings, notes about versions).
public struct PlannerWarning: Equatable, Sendable, Codable, CustomStringConvertible {
    public var message: String
    public var file: String?
    public var line: Int?
    public var key: String?

    public init(_ message: String, file: String? = nil, line: Int? = nil, key: String? = nil) {
        self.message = message
        self.file = file
        self.line = line
        self.key = key
    }

    public var description: String {
        PlannerError(.unknownKey, message, file: file, line: line, key: key).description
    }
}
