#if canImport(Glibc)
    import Glibc
#endif

/// Pull and push work directly on OCI image layouts.
extension OCILayout: ImageStore {
    public func existingBlobFile(_ digest: Digest) -> String? {
        hasBlob(digest) ? blobPath(digest) : nil
    }

    public func temporaryFilePath() throws -> String { temporaryBlobPath(label: "pull") }

    /// The caller hashed the file already (pull verifies digest and size of every download), so this only checks
    /// the size, makes the file durable and renames it into place; across file systems `importBlob` copies and
    /// verifies.
    public func commitVerifiedBlob(file: String, descriptor: Descriptor) throws {
        let fd = try LayoutIO.openRegularFile(file)
        do {
            guard try LayoutIO.fileSize(fd, path: file) == descriptor.size else {
                throw OCIWriterError(
                    .sizeMismatch, "size of \(descriptor.digest) differs from \(descriptor.size) bytes", path: file)
            }
            _ = fchmod(fd, 0o644)
            try LayoutIO.fsync(fd, path: file)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        if Glibc.rename(file, blobPath(descriptor.digest)) == 0 {
            try LayoutIO.fsyncDirectory(blobsDirectory)
            return
        }
        guard errno == EXDEV else {
            throw OCIWriterError.sys("cannot move '\(file)' into the layout", path: blobPath(descriptor.digest))
        }
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
                throw OCIWriterError(
                    .notFound,
                    "no image tagged '\(tag)' in this layout; \(known.isEmpty ? "it has no tags" : "tags: " + known.joined(separator: ", "))",
                    path: path)
            }
            return Self.strippingRefName(d)
        }
        // Artifacts stored beside an image (referrers) are not images of their own.
        let images = index.manifests.filter { !Self.isReferrerEntry($0) }
        guard images.count == 1 else {
            throw OCIWriterError(
                images.isEmpty ? .notFound : .invalidReference,
                images.isEmpty
                    ? "the layout's index.json lists no images"
                    : "the layout holds \(images.count) images: name one with path:tag",
                path: path)
        }
        return Self.strippingRefName(images[0])
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
