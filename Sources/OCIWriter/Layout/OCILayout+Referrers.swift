/// Referrers in an OCI layout: each artifact is stored like any manifest (blobs under `blobs/sha256/`) and listed in
/// index.json as an untagged entry carrying `artifactType` (image-spec: index.json may list any manifest; the
/// descriptor's `artifactType` says what it is). Its `subject` inside the manifest ties it to the image.
extension OCILayout {
    /// Stores `artifact` and lists it in index.json; returns its descriptor.
    @discardableResult
    public func attach(_ artifact: Artifact) throws -> Descriptor {
        guard artifact.subject != nil else {
            throw OCIWriterError(
                .invalidArgument,
                "artifact \(artifact.manifest.digest) has no subject, so it cannot be attached as a referrer",
                path: path)
        }
        let m = artifact.manifest.value
        for d in [m.config] + m.layers {
            try writeBlob(bytes: artifact.blobs[d.digest]!, mediaType: d.mediaType)
        }
        try writeBlob(bytes: artifact.manifest.bytes, mediaType: m.mediaType ?? .ociManifest)
        let entry = artifact.descriptor
        try updateIndex { index in
            if !index.manifests.contains(where: { $0.digest == entry.digest && $0.artifactType != nil }) {
                index.manifests.append(entry)
            }
        }
        return entry
    }

    /// The artifacts in index.json whose manifest names `subject`, optionally only those of `artifactType`,
    /// in index order.
    public func referrers(of subject: Digest, artifactType: MediaType? = nil) throws -> ReferrersListing {
        var found: [Descriptor] = []
        var seen = Set<Digest>()
        for entry in try readIndex().manifests where Self.isReferrerEntry(entry) && seen.insert(entry.digest).inserted {
            if let artifactType, entry.artifactType != artifactType { continue }
            let m = try readDocument(Manifest.self, entry).value
            if m.subject?.digest == subject { found.append(entry) }
        }
        return ReferrersListing(subject: subject, referrers: found, source: .layout)
    }

    /// Reads the artifact `descriptor` with its blobs.
    public func artifact(_ descriptor: Descriptor) throws -> Artifact {
        let bytes = try readBlob(descriptor, limit: Self.documentLimit)
        let m = try EncodedDocument<Manifest>(bytes: bytes, source: blobPath(descriptor.digest)).value
        var blobs: [Digest: [UInt8]] = [:]
        for d in [m.config] + m.layers where blobs[d.digest] == nil {
            blobs[d.digest] = try readBlob(d, limit: Artifact.blobLimit)
        }
        return try Artifact(manifestBytes: bytes, blobs: blobs, source: blobPath(descriptor.digest))
    }

    /// Whether an index.json entry is an artifact stored beside an image rather than an image: an untagged
    /// manifest entry with `artifactType`. Such entries do not count when a layout is asked for "its only image".
    public static func isReferrerEntry(_ d: Descriptor) -> Bool {
        d.artifactType != nil && d.mediaType.isManifest && d.annotations?[Descriptor.refNameAnnotation] == nil
    }
}
