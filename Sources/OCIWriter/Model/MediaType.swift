/// A media type string. Unknown media types are carried, never rejected.
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    // OCI (written)
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociEmpty: MediaType = "application/vnd.oci.empty.v1+json"
    // Docker (read)
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    public var isManifest: Bool { self == .ociManifest || self == .dockerManifest }
    public var isImageConfig: Bool { self == .ociConfig || self == .dockerConfig }

    /// How a layer blob of this type is compressed, or nil when this is not a layer type ociforge can read.
    public var layerCompression: LayerCompression? {
        switch self {
        case .ociLayer, "application/vnd.oci.image.layer.nondistributable.v1.tar": return LayerCompression.none
        case .ociLayerGzip, .dockerLayerGzip, .dockerForeignLayerGzip,
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
            return .gzip
        case .ociLayerZstd, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": return .zstd
        default: return nil
        }
    }

    /// The `Accept` list for manifest requests: OCI and Docker types (distribution 2.8 needs them listed).
    public static let manifestAccept: [MediaType] = [.ociIndex, .ociManifest, .dockerManifestList, .dockerManifest]
}

/// Compression of a layer blob.
public enum LayerCompression: String, Sendable, Codable, CaseIterable {
    case none
    case gzip
    case zstd

    public var ociMediaType: MediaType {
        switch self {
        case .none: return .ociLayer
        case .gzip: return .ociLayerGzip
        case .zstd: return .ociLayerZstd
        }
    }
}
