import Foundation
import Testing

@testable import OCIWriter

@Suite("OCIWriterError keeps the error it wraps")
struct ErrorCauseTests {
    struct Underlying: Error, CustomStringConvertible {
        var description: String { "the helper's own failure" }
    }

    @Test("a credential helper that cannot start: typed cause, rendered after the message")
    func credentialHelperCause() throws {
        let error = OCIWriterError(.authentication, "cannot run credential helper 'x'", path: "/c", cause: Underlying())
        #expect(error.cause is Underlying)
        #expect(error.message == "cannot run credential helper 'x'")
        #expect(error.description == "/c: cannot run credential helper 'x': the helper's own failure")
        #expect(error != OCIWriterError(.authentication, "cannot run credential helper 'x'", path: "/c"))
    }

    @Test("a JSON value that does not encode: the encoder's error is the cause, not text in the message")
    func encodeFailureCause() throws {
        struct Bad: Encodable {
            func encode(to encoder: any Encoder) throws { throw Underlying() }
        }
        do {
            _ = try CanonicalJSON.encode(Bad())
            Issue.record("encoding succeeded")
        } catch let e as OCIWriterError {
            #expect(e.code == .invalidJSON)
            #expect(e.cause is Underlying)
            #expect(!e.message.contains("the helper's own failure"))
            #expect(e.description.hasSuffix(": the helper's own failure"))
        }
    }
}
