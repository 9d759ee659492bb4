import Foundation

/// A warning of a build: something the image got that the user may not expect, or input that did nothing. Both
/// front ends record them (`BuildRecorder.warnings`); the report carries them; the CLI renders them.
public struct BuildWarning: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Codable, Hashable, Sendable {
        /// From the Dockerfile front end's resolver (the message names the Dockerfile and line).
        case dockerfile
        /// The plan's scratch runtime base was replaced by Debian's slim base: the start command needs a shell.
        case runtimeBaseReplaced
        /// A deploy input (files taken from a build step into the runtime stage) matched no files.
        case emptyDeployInput
        /// From the sandbox while a phase ran or its changes were read (e.g. a socket that cannot be stored).
        case phase
    }

    public var code: Code
    public var message: String
    /// The step it concerns (`stage/phase`, or a Dockerfile phase label), when it concerns one.
    public var step: String?

    public init(_ code: Code, _ message: String, step: String? = nil) {
        self.code = code
        self.message = message
        self.step = step
    }

    /// `step: message`.
    public var description: String { step.map { "\($0): \(message)" } ?? message }
}
