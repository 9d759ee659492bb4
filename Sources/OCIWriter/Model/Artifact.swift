/// An OCI 1.1 artifact (image-spec `manifest.md`, "Guidelines for Artifact Usage"): an image manifest whose
/// `config` is the empty descriptor, whose `artifactType` says what it is and whose `subject` names the manifest it
/// is about, together with the bytes of its blobs. Artifacts ociforge writes (SBOMs, provenance, signatures) are
/// small documents, so they are held in memory whole.
public struct Artifact: Sendable {
    /// The manifest's exact bytes (never re-encoded after reading).
    public let manifest: EncodedDocument<Manifest>
    /// The config and layer blobs, by digest.
    public let blobs: [Digest: [UInt8]]

    /// Largest artifact blob ociforge reads into memory.
    public static let blobLimit = 64 << 20

    /// Builds an artifact about `subject` with the empty config and one layer per entry of `layers`.
    public init(
        artifactType: MediaType, subject: Descriptor, layers: [ArtifactLayer],
        annotations: [String: String]? = nil
    ) throws {
        guard !layers.isEmpty else {
            throw OCIWriterError(.invalidArgument, "an artifact of type \(artifactType) needs at least one layer")
        }
        var blobs: [Digest: [UInt8]] = [Descriptor.emptyJSON.digest: Descriptor.emptyJSONBytes]
        var descriptors: [Descriptor] = []
        for l in layers {
            let d = Descriptor(
                mediaType: l.mediaType, digest: Digest.of(l.bytes), size: Int64(l.bytes.count),
                annotations: l.annotations?.isEmpty == false ? l.annotations : nil)
            blobs[d.digest] = l.bytes
            descriptors.append(d)
        }
        var m = Manifest(
            config: Descriptor.emptyJSON, layers: descriptors,
            annotations: annotations?.isEmpty == false ? annotations : nil)
        m.artifactType = artifactType
        m.subject = Descriptor(mediaType: subject.mediaType, digest: subject.digest, size: subject.size)
        self.manifest = try EncodedDocument(m)
        self.blobs = blobs
    }

    /// An artifact read back: the manifest's bytes and its blobs, each checked against its descriptor.
    public init(manifestBytes: [UInt8], blobs: [Digest: [UInt8]], source: String) throws {
        let doc = try EncodedDocument<Manifest>(bytes: manifestBytes, source: source)
        for d in [doc.value.config] + doc.value.layers {
            guard let b = blobs[d.digest] else {
                throw OCIWriterError(.notFound, "blob \(d.digest) of artifact \(doc.digest) is missing", path: source)
            }
            guard Int64(b.count) == d.size, Digest.of(b) == d.digest else {
                throw OCIWriterError(
                    .digestMismatch, "blob \(d.digest) of artifact \(doc.digest) does not match its descriptor",
                    path: source)
            }
        }
        self.manifest = doc
        self.blobs = blobs
    }

    /// What the artifact is: `artifactType`, else the config's media type (image-spec's rule for referrers).
    public var artifactType: MediaType { manifest.value.artifactType ?? manifest.value.config.mediaType }

    public var subject: Descriptor? { manifest.value.subject }

    /// The descriptor listed in a referrers index or an OCI layout's index.json: media type, digest, size,
    /// `artifactType` and the manifest's annotations.
    public var descriptor: Descriptor {
        Descriptor(
            mediaType: manifest.value.mediaType ?? .ociManifest, digest: manifest.digest, size: manifest.size,
            annotations: manifest.value.annotations, artifactType: artifactType)
    }

    /// The bytes of the first layer of `mediaType` (or the first layer).
    public func payload(_ mediaType: MediaType? = nil) -> [UInt8]? {
        let layer = manifest.value.layers.first { mediaType == nil || $0.mediaType == mediaType }
        return layer.flatMap { blobs[$0.digest] }
    }
}

/// One layer of an artifact being built.
public struct ArtifactLayer: Sendable {
    public var mediaType: MediaType
    public var bytes: [UInt8]
    public var annotations: [String: String]?

    public init(mediaType: MediaType, bytes: [UInt8], annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.bytes = bytes
        self.annotations = annotations
    }
}

extension Descriptor {
    /// The bytes of the empty JSON blob, `{}`.
    public static let emptyJSONBytes: [UInt8] = Array("{}".utf8)
    /// The empty descriptor (`application/vnd.oci.empty.v1+json`, `{}`), the config of artifacts.
    public static let emptyJSON = Descriptor(mediaType: .ociEmpty, digest: Digest.of(emptyJSONBytes), size: 2)
}

extension MediaType {
    /// SPDX JSON document.
    public static let spdxJSON: MediaType = "application/spdx+json"
    /// CycloneDX JSON document.
    public static let cycloneDXJSON: MediaType = "application/vnd.cyclonedx+json"
    /// An in-toto statement (provenance, SBOM attestations).
    public static let inTotoJSON: MediaType = "application/vnd.in-toto+json"
    /// containers/image and legacy cosign "simple signing" payload.
    public static let cosignSimpleSigning: MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
}
