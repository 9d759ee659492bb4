import Foundation

/// The Toolchains module's one error type: a code, a message a user can act on, the URL, file or archive entry it
/// concerns, the setting that changes the channel's base URL when the failure is about a channel, and the
/// underlying error.
public struct ToolchainError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case unreachable  // connection / TLS / timeout failure reaching a channel
        case httpStatus  // the channel answered with a non-2xx status
        case invalidIndex  // an index, manifest or checksum file that does not parse
        case unknownVersion  // the channel does not list the version
        case unsupportedPlatform  // the release has no archive for the platform
        case unsupportedFlavor  // a runtime-only build asked of a tool that publishes none
        case checksumMissing  // the channel's checksum file has no line for the artifact
        case checksumMismatch  // the download does not hash to the published checksum (or the pin's digest)
        case truncated  // fewer bytes than published
        case tooLarge  // more bytes than published, or than the download limit
        case hostileArchive  // `..`, absolute names, symlinks leaving the tree, devices
        case archive  // an archive libarchive cannot read
        case io  // a local file operation failed
        case invalidSetting  // a malformed base URL setting
        case invalidPin  // a pin that cannot be installed as written
        case keyringMissing  // a signed-only channel (swift) and no keyring configured to verify it
        case signatureInvalid  // gpgv rejected the detached signature of a download
    }

    public var code: Code
    public var message: String
    /// The URL involved (index, checksum file or artifact).
    public var url: String?
    /// The channel endpoint whose base URL setting changes `url`.
    public var endpoint: ChannelEndpoint?
    /// Local file, directory or archive entry.
    public var path: String?
    public var cause: (any Error)?

    public init(
        _ code: Code, _ message: String, url: String? = nil, endpoint: ChannelEndpoint? = nil,
        path: String? = nil, cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.url = url
        self.endpoint = endpoint
        self.path = path
        self.cause = cause
    }

    /// `path: message (URL) [setting] : cause`, leaving out what is unknown.
    public var description: String {
        var s = ""
        if let path { s += "\(path): " }
        s += message
        if let url { s += " (\(url))" }
        if let endpoint { s += "; to use a mirror set \(endpoint.settingDescription)" }
        if let cause { s += ": \(cause)" }
        return s
    }
}
