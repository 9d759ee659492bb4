/// Pull and push work directly on OCI image layouts.
extension OCILayout: ImageStore {
    public func existingBlobFile(_ digest: Digest) -> String? {
        hasBlob(digest) ? blobPath(digest) : nil
    }

    public func temporaryFilePath() throws -> String { temporaryBlobPath(label: "pull") }

    /// `importBlob` checks size and digest once more while the file is hot in the page cache, then renames it.
    public func commitVerifiedBlob(file: String, descriptor: Descriptor) throws {
        try importBlob(file: file, expected: descriptor, mode: .move)
    }

    public func readSmallBlob(_ descriptor: Descriptor) throws -> [UInt8] {
        try readBlob(descriptor, limit: RegistryClient.maxManifestBytes)
    }

    /// The index.json entry named `tag`, or the only entry; an index stays an index (all platforms are pushed).
    public func rootDescriptor(tag: String?) throws -> Descriptor {
        let index = try readIndex()
        if let tag {
            guard let d = index.manifests.last(where: { $0.annotations?[Descriptor.refNameAnnotation] == tag }) else {
                let known = try tags()
                throw OCIWriterError(.notFound, "no image tagged '\(tag)' in this layout; \(known.isEmpty ? "it has no tags" : "tags: " + known.joined(separator: ", "))", path: path)
            }
            return Self.strippingRefName(d)
        }
        guard index.manifests.count == 1 else {
            throw OCIWriterError(index.manifests.isEmpty ? .notFound : .invalidReference,
                                 index.manifests.isEmpty ? "the layout's index.json lists no images" : "the layout holds \(index.manifests.count) images: name one with path:tag",
                                 path: path)
        }
        return Self.strippingRefName(index.manifests[0])
    }

    public func setTag(_ tag: String, descriptor: Descriptor) throws {
        try self.tag(descriptor, as: tag)
    }

    static func strippingRefName(_ d: Descriptor) -> Descriptor {
        var d = d
        d.annotations?.removeValue(forKey: Descriptor.refNameAnnotation)
        if d.annotations?.isEmpty == true { d.annotations = nil }
        return d
    }
}
