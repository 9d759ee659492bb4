/// OCI content descriptor.
public struct Descriptor: Codable, Hashable, Sendable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?
    public var artifactType: MediaType?

    public init(
        mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: MediaType? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decode(MediaType.self, forKey: .mediaType)
        digest = try c.decode(Digest.self, forKey: .digest)
        size = try c.decode(Int64.self, forKey: .size)
        guard size >= 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .size, in: c, debugDescription: "size must not be negative (\(size))")
        }
        urls = try c.decodeIfPresent([String].self, forKey: .urls)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        platform = try c.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try c.decodeIfPresent(MediaType.self, forKey: .artifactType)
    }

    /// Annotation key naming a descriptor in an OCI layout's index.json.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}

/// Target platform of an image.
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(
        architecture: String, os: String, osVersion: String? = nil, osFeatures: [String]? = nil, variant: String? = nil
    ) {
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.variant = variant
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`.
    public init(parsing s: String) throws {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
            throw OCIWriterError(
                .invalidArgument, "invalid platform '\(s)': expected os/arch[/variant], e.g. linux/amd64")
        }
        self.init(architecture: parts[1], os: parts[0], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// The platform of the running host, in OCI (GOARCH) naming.
    public static var host: Platform {
        #if arch(x86_64)
            return Platform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
            return Platform(architecture: "arm64", os: "linux", variant: "v8")
        #elseif arch(arm)
            return Platform(architecture: "arm", os: "linux", variant: "v7")
        #else
            return Platform(architecture: "unknown", os: "linux")
        #endif
    }

    /// Whether `self` (a requested platform) is satisfied by `candidate` (from an index).
    /// A request without a variant accepts any variant; arm64's variant defaults to v8.
    public func matches(_ candidate: Platform) -> Bool {
        guard os == candidate.os, architecture == candidate.architecture else { return false }
        guard let want = variant else { return true }
        let have = candidate.variant ?? (candidate.architecture == "arm64" ? "v8" : nil)
        return want == have
    }

    public var description: String { [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }
}
