import Foundation

/// An error read back from a JSON report: only the text it rendered as survives (`BuildWarning.cause`,
/// `VerificationProblem.cause` decoded from their `cause` field).
public struct RecordedCause: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
