/// The single error type of the OCIWriter module.
///
/// Every error carries a machine-readable `code`, a message a user can act on, and where known the file,
/// tar entry, registry or repository it concerns, and the underlying error (`cause`) when it wraps one.
/// `description` renders all of it on one line.
public struct OCIWriterError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case invalidDigest
        case invalidReference
        case invalidJSON
        case invalidImage
        case unsupportedMediaType
        case digestMismatch
        case sizeMismatch
        case io
        case layerWrite
        case compression
        case extraction
        case unsafeEntry
        case limitExceeded
        case layout
        case notFound
        case platformNotFound
        case registry
        case authentication
        case network
        case invalidArgument
    }

    public var code: Code
    public var message: String
    /// File, directory or tar entry the error is about.
    public var path: String?
    /// errno when the failure came from a system call.
    public var errno: Int32?
    /// The underlying error this one wraps (a Foundation, decoder or library error), kept typed.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.cause = cause
    }

    /// Equal when code, message, path and errno are equal and the causes render the same.
    public static func == (a: OCIWriterError, b: OCIWriterError) -> Bool {
        a.code == b.code && a.message == b.message && a.path == b.path && a.errno == b.errno
            && a.cause.map { "\($0)" } == b.cause.map { "\($0)" }
    }

    public var description: String {
        var s = ""
        if let path { s += "\(path): " }
        s += message
        if let cause { s += ": \(cause)" }
        if let errno { s += " (\(String(cString: strerror(errno))))" }
        if errno == ENOSPC || errno == EDQUOT {
            s += "; the filesystem is full (or over quota): free space and retry"
        }
        return s
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension OCIWriterError {
    /// An I/O failure of a system call, with the current errno.
    static func sys(_ what: String, path: String? = nil, errno e: Int32 = Glibc.errno) -> OCIWriterError {
        OCIWriterError(.io, what, path: path, errno: e)
    }
}
