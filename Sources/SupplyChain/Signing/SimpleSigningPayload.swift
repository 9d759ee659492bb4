import Foundation
import OCIWriter

/// The "simple signing" payload of containers/image sigstore signatures (and legacy cosign signatures):
/// `{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},"type":"cosign container
/// image signature"},"optional":{…}}`. The signature covers these exact bytes.
public struct SimpleSigningPayload: Codable, Sendable, Equatable {
    public static let signatureType = "cosign container image signature"

    public struct Critical: Codable, Sendable, Equatable {
        public struct Identity: Codable, Sendable, Equatable {
            public var dockerReference: String
            enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" }
        }
        public struct Image: Codable, Sendable, Equatable {
            public var dockerManifestDigest: String
            enum CodingKeys: String, CodingKey { case dockerManifestDigest = "docker-manifest-digest" }
        }
        public var identity: Identity
        public var image: Image
        public var type: String
    }

    public struct Optional: Codable, Sendable, Equatable {
        public var creator: String?
        public var timestamp: Int64?
    }

    public var critical: Critical
    public var optional: Optional?

    public init(dockerReference: String, manifestDigest: Digest, creator: String?, timestamp: Int64?) {
        critical = Critical(
            identity: .init(dockerReference: dockerReference),
            image: .init(dockerManifestDigest: manifestDigest.string), type: Self.signatureType)
        optional = creator == nil && timestamp == nil ? nil : Optional(creator: creator, timestamp: timestamp)
    }

    public func encoded() throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try e.encode(self)) } catch {
            throw SupplyChainError(.invalidInput, "cannot encode the signature payload", cause: error)
        }
    }

    public static func decode(_ bytes: [UInt8], source: String) throws -> SimpleSigningPayload {
        do {
            return try JSONDecoder().decode(SimpleSigningPayload.self, from: Data(bytes))
        } catch {
            throw SupplyChainError(
                .invalidInput, "the signature payload is not a simple-signing document", location: source, cause: error)
        }
    }

    /// `docker-reference` without its tag or digest: `host[:port]/repository`.
    public var repository: String {
        var r = critical.identity.dockerReference
        if let at = r.firstIndex(of: "@") { r = String(r[..<at]) }
        if let colon = r.lastIndex(of: ":"), !r[colon...].contains("/") { r = String(r[..<colon]) }
        return r
    }
}
