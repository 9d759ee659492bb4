import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Body of an HTTP request. Files are streamed from disk, never loaded whole.
public enum HTTPBody: Sendable {
    case none
    case bytes([UInt8])
    case file(String)
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [String: String]
    public var body: HTTPBody
    /// For `download`: a 2xx body longer than this many bytes aborts the transfer (`.limitExceeded`) and the
    /// partial file is removed. nil: unbounded.
    public var maxDownloadBytes: Int64?

    public init(
        method: String, url: URL, headers: [String: String] = [:], body: HTTPBody = .none,
        maxDownloadBytes: Int64? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.maxDownloadBytes = maxDownloadBytes
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    /// The body when it was collected in memory (error bodies, manifests, tokens); empty for file downloads.
    public var body: [UInt8]
    /// The URL that answered (after redirects).
    public var url: URL

    public init(status: Int, headers: [String: String], body: [UInt8], url: URL) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Outcome of a streamed download: the response, and for a 2xx answer the sha256 and size of what was written.
public struct DownloadResult: Sendable {
    public var response: HTTPResponse
    public var digest: Digest?
    public var size: Int64
}

/// The small HTTP surface the registry client needs; tests may substitute their own.
public protocol HTTPTransport: Sendable {
    /// Sends `request`; the response body is collected in memory up to `maxBodyBytes` (more is an error).
    func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws -> HTTPResponse
    /// Sends `request`; a 2xx body is streamed to a new file at `path` and hashed while written.
    /// Other bodies are collected in memory (bounded) for error reporting and nothing is written.
    func download(_ request: HTTPRequest, to path: String) async throws -> DownloadResult
}

/// Redirect rules of the transport: `Authorization` is only forwarded while a redirect stays on the same scheme,
/// host and port (blob GETs commonly redirect to object storage, which must never see registry credentials).
enum RedirectPolicy {
    static func sameOrigin(_ a: URL?, _ b: URL?) -> Bool {
        guard let a, let b else { return false }
        func port(_ u: URL) -> Int { u.port ?? (u.scheme?.lowercased() == "https" ? 443 : 80) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && port(a) == port(b)
    }
}
