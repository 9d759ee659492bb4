#if canImport(Glibc)
    import Glibc
#endif

/// The Sandbox module's error: what failed, an actionable message, the path or command involved, errno.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case launch, setup, commandFailed, timedOut, interrupted, idMapping, state, diff, base, invalidArgument
        /// The launcher could not mount the overlay (old kernel, unsupported file system under the state directory,
        /// nested overlay): a phase may run on a copied tree instead.
        case overlayUnavailable
        /// A foreign platform's executables cannot run here (no usable binfmt_misc handler).
        case emulation
        /// The sandbox cannot work here (a container without the settings it needs): `cause` is a
        /// `SandboxPreflight.Failure` listing each missing requirement.
        case preflight
    }
    public var code: Code
    public var message: String
    public var errno: Int32?
    /// The command line, path or entry the error is about.
    public var detail: String?
    /// For `.commandFailed`: the command's exit status (128 + signal when killed by a signal).
    public var exitStatus: Int32?
    /// The underlying error (e.g. Foundation's when a host program cannot be started).
    public var cause: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, errno: Int32? = nil, detail: String? = nil, exitStatus: Int32? = nil,
        cause: (any Error & Sendable)? = nil
    ) {
        self.cause = cause
        self.code = code
        self.message = message
        self.errno = errno
        self.detail = detail
        self.exitStatus = exitStatus
    }

    public var description: String {
        var s = message
        if let errno, errno != 0 { s += ": \(String(cString: strerror(errno))) (errno \(errno))" }
        if let cause { s += " (\(cause))" }
        if let detail, !detail.isEmpty { s += "\n  \(detail)" }
        return s
    }
}
