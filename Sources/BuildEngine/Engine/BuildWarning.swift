import Foundation
import OCIWriter

/// A warning of a build: something the image got that the user may not expect, or input that did nothing. Both
/// front ends record them (`BuildRecorder.warnings`); the report carries them; the CLI renders them. When another
/// module's error caused it (a registry that refused, a blob that did not verify), that error is kept typed in
/// `cause`: renderers print it after the message, JSON carries its text as `cause`.
public struct BuildWarning: Codable, Hashable, Sendable, CustomStringConvertible, Comparable {
    public enum Code: String, Codable, Hashable, Sendable {
        /// From the Dockerfile front end's resolver (the message names the Dockerfile and line).
        case dockerfile
        /// The plan's scratch runtime base was replaced by Debian's slim base: the start command needs a shell.
        case runtimeBaseReplaced
        /// A deploy input (files taken from a build step into the runtime stage) matched no files.
        case emptyDeployInput
        /// From the sandbox while a phase ran or its changes were read (e.g. a socket that cannot be stored).
        case phase
        /// The SBOM or provenance left something out (an unreadable lockfile, a multi-platform index).
        case attestation
        /// A registry cache entry was unusable or could not be written: a miss, the build went on (docs/cache.md).
        case registryCache
    }

    public var code: Code
    public var message: String
    /// The step it concerns (`stage/phase`, or a Dockerfile phase label), when it concerns one.
    public var step: String?
    /// The underlying error, when one caused the warning (decoded from JSON: a `RecordedCause` with its text).
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, step: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.step = step
        self.cause = cause
    }

    /// The cause as text (what renderers print and JSON carries).
    public var causeText: String? { cause.map { String(describing: $0) } }

    /// `step: message: cause`.
    public var description: String {
        (step.map { "\($0): " } ?? "") + message + (causeText.map { ": \($0)" } ?? "")
    }

    private enum CodingKeys: String, CodingKey { case code, message, step, cause }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try c.decode(Code.self, forKey: .code), try c.decode(String.self, forKey: .message),
            step: try c.decodeIfPresent(String.self, forKey: .step),
            cause: try c.decodeIfPresent(String.self, forKey: .cause).map { RecordedCause($0) })
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(step, forKey: .step)
        try c.encodeIfPresent(causeText, forKey: .cause)
    }

    /// Equal when code, message, step and the cause's text are (a multi-platform report lists each once).
    public static func == (a: BuildWarning, b: BuildWarning) -> Bool {
        (a.code, a.message, a.step, a.causeText) == (b.code, b.message, b.step, b.causeText)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
        hasher.combine(step)
        hasher.combine(causeText)
    }

    /// By step, then message (a multi-platform report lists each distinct warning once, in this order).
    public static func < (a: BuildWarning, b: BuildWarning) -> Bool {
        (a.step ?? "", a.message, a.code.rawValue, a.causeText ?? "")
            < (b.step ?? "", b.message, b.code.rawValue, b.causeText ?? "")
    }
}
