#if canImport(Glibc)
    import Glibc
#endif

/// An errno value as an error cause.
public struct Errno: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}
