import Foundation
import OCIWriter
import Planner
import Sandbox
import Toolchains

/// The build engine's error: what failed (`code`), an actionable message, the step, command, exit status and last
/// output lines when a step failed, and the underlying error (`cause`) when another module's error caused it.
public struct BuildEngineError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// A step's command exited non-zero or was killed.
        case stepFailed
        /// A step ran past its time limit.
        case timedOut
        /// The request cannot be built as asked (a flag that does not apply, a platform that cannot run here).
        case unsupported
        /// The plan or Dockerfile names something that does not exist or is malformed.
        case invalidInput
        /// A base image could not be obtained (pull, mmdebstrap, unpack).
        case base
        /// The build cache or the state directory could not be used.
        case cache
        /// Writing or assembling layers and the image.
        case image
        /// Delivering the image to its output (layout, registry, archive).
        case output
        /// The sandbox failed to run a step (setup, launch).
        case sandbox
        /// Host file operations while staging a step's files.
        case staging
        /// The planner could not resolve the Dockerfile again against its bases.
        case planner
        /// An upstream toolchain could not be resolved, downloaded, verified or unpacked (channel, mirror, pin).
        case toolchain
        /// The image was written but its SBOM, provenance or signature could not be attached.
        case attestation
    }

    public var code: Code
    public var message: String
    public var phase: String?
    public var command: String?
    public var exitStatus: Int32?
    public var lastOutput: String?
    /// What `lastOutput` shows about the failure (a certificate the step could not verify), classified once here
    /// so both front ends and every renderer get the same hint line.
    public var diagnosis: PhaseFailureDiagnosis?
    /// The error of another module this one wraps (`SandboxError`, `OCIWriterError`, `PlannerError`, …).
    public var cause: (any Error)?

    public init(
        _ code: Code, _ message: String, phase: String? = nil, command: String? = nil, exitStatus: Int32? = nil,
        lastOutput: String? = nil, cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.phase = phase
        self.command = command
        self.exitStatus = exitStatus
        self.lastOutput = lastOutput
        self.diagnosis = lastOutput.flatMap(PhaseFailureDiagnosis.classify)
        self.cause = cause
    }

    /// `error` as a `BuildEngineError`: itself, or wrapped with a code from its module (`message` says what the
    /// engine was doing).
    public static func wrapping(_ error: any Error, _ message: String? = nil) -> BuildEngineError {
        if let e = error as? BuildEngineError { return e }
        let code: Code
        switch error {
        case let e as SandboxError:
            switch e.code {
            case .commandFailed: code = .stepFailed
            case .timedOut: code = .timedOut
            case .base: code = .base
            case .state, .diff: code = .cache
            default: code = .sandbox
            }
        case is OCIWriterError: code = .image
        case is PlannerError: code = .planner
        case is ToolchainError: code = .toolchain
        default: code = .staging
        }
        return BuildEngineError(code, message ?? "", cause: error)
    }

    public var description: String {
        var s = message
        if let cause { s += (s.isEmpty ? "" : ": ") + "\(cause)" }
        if let phase { s += "\n  phase: \(phase)" }
        if let command { s += "\n  command: \(command)" }
        if let exitStatus { s += "\n  exit status: \(exitStatus)" }
        if let lastOutput, !lastOutput.isEmpty { s += "\n  " + lastOutput }
        if let diagnosis { s += "\n  " + diagnosis.hint }
        if ![.output, .attestation].contains(code) {
            s += "\n  no image was written; the previous image at the output (if any) is unchanged"
        }
        return s
    }
}
