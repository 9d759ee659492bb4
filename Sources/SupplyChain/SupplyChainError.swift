/// The single error type of the SupplyChain module (signing keys, signatures, SBOMs, provenance).
public struct SupplyChainError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// A key file is malformed, of an unsupported type, or cannot be decrypted.
        case invalidKey
        /// The passphrase does not decrypt the key.
        case wrongPassphrase
        /// A cryptographic library call failed.
        case crypto
        /// No signature verifies with the given key, or a signature names another image.
        case verificationFailed
        /// The image has no signatures.
        case unsigned
        /// An input document (lockfile, dpkg status, signature payload) cannot be parsed.
        case invalidInput
        /// Reading or writing a file failed.
        case io
        /// A registry or layout operation failed (see `cause`).
        case image
    }

    public var code: Code
    public var message: String
    /// The file, line or field the error is about.
    public var location: String?
    /// The underlying error of another module.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, location: String? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.cause = cause
    }

    public var description: String {
        var s = location.map { "\($0): " } ?? ""
        s += message
        if let cause { s += ": \(cause)" }
        return s
    }
}
