import OCIWriter

/// Signing an index with its platform manifests: containers/image (podman, skopeo) checks the signature of the
/// instance it pulls from an index, so an index signed alone is refused on pull; cosign's `--recursive` does the
/// same.
extension SigstoreSignatures {
    /// A signed index (or image) and the platform manifests signed with it.
    public struct RecursiveSignResult: Sendable {
        public var top: SignResult
        public var instances: [Digest]
    }

    /// Signs the manifest `reference` names and, when it is an index, each manifest it lists, under the same
    /// identity (`host/repository[:tag]` of `reference`).
    public static func signWithInstances(_ reference: ImageReference, client: RegistryClient, key: SigningKey)
        async throws -> RecursiveSignResult
    {
        let top = try await sign(reference, client: client, key: key)
        let fetched = try await image(client) {
            try await client.fetchManifest(repository: reference.repository, reference: top.imageDigest.string)
        }
        let instances = try indexManifests(fetched.bytes, mediaType: fetched.mediaType, source: reference.description)
        for digest in instances {
            _ = try await sign(reference.with(tag: reference.tag, digest: digest), client: client, key: key)
        }
        return RecursiveSignResult(top: top, instances: instances)
    }

    /// The manifest digests an index lists (none for an image manifest).
    static func indexManifests(_ bytes: [UInt8], mediaType: MediaType, source: String) throws -> [Digest] {
        guard mediaType.isIndex else { return [] }
        do {
            return try CanonicalJSON.decode(ImageIndex.self, from: bytes, source: source).manifests.map(\.digest)
        } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "cannot read the index \(source)", cause: e)
        }
    }
}

extension LayoutSignatures {
    /// Signs what `tag` names in the layout and, when it is an index, each manifest it lists, under `identity`.
    public static func signWithInstances(_ layout: OCILayout, tag: String, identity: String, key: SigningKey)
        throws -> SigstoreSignatures.RecursiveSignResult
    {
        let top = try sign(layout, tag: tag, identity: identity, key: key)
        let entry = try self.entry(layout, tag: tag)
        var instances: [Digest] = []
        if entry.mediaType.isIndex {
            let bytes: [UInt8]
            do { bytes = try layout.readBlob(entry) } catch let e as OCIWriterError {
                throw SupplyChainError(.image, "cannot read the index \(entry.digest) in \(layout.path)", cause: e)
            }
            instances = try SigstoreSignatures.indexManifests(
                bytes, mediaType: entry.mediaType, source: "\(layout.path):\(tag)")
        }
        for digest in instances { _ = try sign(layout, digest: digest, identity: identity, key: key) }
        return .init(top: top, instances: instances)
    }
}
