import Foundation
import OCIWriter

/// Fetches channel indexes (JSON, TOML, checksum files) into memory, bounded, mapping every failure to a
/// `ToolchainError` that names the URL and the endpoint setting.
struct IndexFetcher: Sendable {
    let transport: any HTTPTransport
    var cache: IndexCachePolicy? = nil
    /// Upper bound of one index document (python-build-standalone's release pages are the largest, a few MiB).
    static let maxIndexBytes = 64 << 20

    func bytes(_ url: String, _ endpoint: ChannelEndpoint) async throws(ToolchainError) -> [UInt8] {
        guard let u = URL(string: url), u.scheme != nil else {
            throw ToolchainError(.invalidSetting, "not a valid URL", url: url, endpoint: endpoint)
        }
        if let cache, let body = cache.fresh(url) { return body }
        let response: HTTPResponse
        do {
            response = try await transport.send(
                HTTPRequest(method: "GET", url: u, headers: ["Accept": "*/*"]),
                maxBodyBytes: Self.maxIndexBytes)
        } catch let e as OCIWriterError where e.code == .limitExceeded {
            throw ToolchainError(
                .tooLarge, "index larger than \(Self.maxIndexBytes) bytes", url: url,
                endpoint: endpoint, cause: e)
        } catch {
            throw ToolchainError(
                .unreachable, "cannot reach the \(endpoint.rawValue) channel", url: url,
                endpoint: endpoint, cause: error)
        }
        guard (200..<300).contains(response.status) else {
            throw ToolchainError(
                .httpStatus, "the \(endpoint.rawValue) channel answered HTTP \(response.status)",
                url: url, endpoint: endpoint)
        }
        cache?.store(url, response.body)
        return response.body
    }

    func json<T: Decodable>(_ type: T.Type, _ url: String, _ endpoint: ChannelEndpoint) async throws(ToolchainError)
        -> T
    {
        let data = try await bytes(url, endpoint)
        return try Self.decode(type, data, url: url, endpoint: endpoint)
    }

    static func decode<T: Decodable>(
        _ type: T.Type, _ data: [UInt8], url: String,
        endpoint: ChannelEndpoint
    ) throws(ToolchainError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(data))
        } catch {
            var at = ""
            if case .keyNotFound(let k, let c) = error as? DecodingError {
                at = " at " + (c.codingPath + [k]).map(\.stringValue).joined(separator: ".")
            } else if let c = (error as? DecodingError)?.context {
                at = " at " + c.codingPath.map(\.stringValue).joined(separator: ".")
            }
            throw ToolchainError(
                .invalidIndex, "the \(endpoint.rawValue) index does not parse\(at)", url: url,
                endpoint: endpoint, cause: error)
        }
    }
}

extension DecodingError {
    var context: Context? {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): c
        @unknown default: nil
        }
    }
}
