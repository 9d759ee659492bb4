import Foundation

/// A warning of a build: something the image got that the user may not expect, or input that did nothing. Both
/// front ends record them (`BuildRecorder.warnings`); the report carries them; the CLI renders them.
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

    public init(_ code: Code, _ message: String, step: String? = nil) {
        self.code = code
        self.message = message
        self.step = step
    }

    /// `step: message`.
    public var description: String { step.map { "\($0): \(message)" } ?? message }

    /// By step, then message (a multi-platform report lists each distinct warning once, in this order).
    public static func < (a: BuildWarning, b: BuildWarning) -> Bool {
        (a.step ?? "", a.message, a.code.rawValue) < (b.step ?? "", b.message, b.code.rawValue)
    }
}
