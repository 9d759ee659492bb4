import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What pull and push need from local image storage (an `OCILayout`, a test directory, …).
///
/// `commitVerifiedBlob` receives a complete temporary file (already verified by the caller; an implementation may
/// verify again) and must move it into place atomically, so an interrupted transfer never leaves a partial blob.
public protocol ImageStore: Sendable {
    /// The file holding blob `digest`, or nil when the store does not have it.
    func existingBlobFile(_ digest: Digest) -> String?
    /// A fresh path for a temporary file on the same file system as the blobs (nothing is created).
    func temporaryFilePath() throws -> String
    /// Moves the complete file at `file` into place as the blob `descriptor`.
    func commitVerifiedBlob(file: String, descriptor: Descriptor) throws
    /// The bytes of a small blob (manifest, index, config), verified against the descriptor.
    func readSmallBlob(_ descriptor: Descriptor) throws -> [UInt8]
    /// The top-level descriptor named `tag` (nil: the store's only image).
    func rootDescriptor(tag: String?) throws -> Descriptor
    /// Points `tag` at `descriptor`, replacing an earlier image with that tag.
    func setTag(_ tag: String, descriptor: Descriptor) throws
}

extension ImageStore {
    /// Stores small document bytes as a blob (temp file + rename).
    func storeBytes(_ bytes: [UInt8], descriptor: Descriptor) throws {
        if existingBlobFile(descriptor.digest) != nil { return }
        let tmp = try temporaryFilePath()
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot create temporary file", path: tmp) }
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        close(fd)
        guard ok else {
            unlink(tmp)
            throw OCIWriterError.sys("cannot write temporary file", path: tmp)
        }
        do { try commitVerifiedBlob(file: tmp, descriptor: descriptor) } catch {
            unlink(tmp)
            throw error
        }
    }
}

/// Runs `body` for each item with at most `limit` running at once; the first error cancels the rest.
func forEachBounded<T: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> Void)
    async throws
{
    try await withThrowingTaskGroup(of: Void.self) { group in
        var it = items.makeIterator()
        for _ in 0..<max(1, limit) {
            guard let x = it.next() else { break }
            group.addTask { try await body(x) }
        }
        while try await group.next() != nil {
            if let x = it.next() { group.addTask { try await body(x) } }
        }
    }
}

/// Blobs a manifest refers to, config first, deduplicated by digest.
func referencedBlobs(_ m: Manifest) -> [Descriptor] {
    var seen = Set<Digest>()
    return ([m.config] + m.layers).filter { seen.insert($0.digest).inserted }
}

extension RegistryClient {
    static let maxManifestBytes = 4 << 20

    /// Pulls `reference` into `store` and tags it `tag` (default: the reference's tag).
    ///
    /// An index is resolved to the manifest for `platform` (default: the host's); the stored image is that manifest.
    /// Every blob is streamed to a temporary file, verified against its digest and size, then renamed into place.
    @discardableResult
    public func pull(
        _ reference: ImageReference, into store: ImageStore, tag: String? = nil,
        platform: Platform? = nil
    ) async throws -> Descriptor {
        let repo = reference.repository
        var top = try await fetchManifest(repository: repo, reference: reference.reference)
        var root = top.descriptor
        if top.mediaType.isIndex {
            let index = try EncodedDocument<ImageIndex>(bytes: top.bytes, source: "\(reference) (index)").value
            let want = platform ?? Platform.host
            guard
                let choice = index.manifests.first(where: { d in
                    d.mediaType.isManifest && d.platform.map { want.matches($0) } ?? false
                })
            else {
                let have = index.manifests.compactMap { $0.platform?.description }
                throw OCIWriterError(
                    .platformNotFound,
                    "registry \(registry), repository \(repo): \(reference.reference) has no image for platform \(want); available: \(have.isEmpty ? "none" : have.joined(separator: ", ")) (choose one with --platform)"
                )
            }
            top = try await fetchManifest(repository: repo, reference: choice.digest.string, expected: choice)
            root = choice
        }
        let manifest = try EncodedDocument<Manifest>(bytes: top.bytes, source: "\(reference) (manifest \(top.digest))")
            .value
        try await downloadBlobs(referencedBlobs(manifest), repository: repo, into: store)
        let stored = Descriptor(
            mediaType: top.mediaType, digest: top.digest, size: Int64(top.bytes.count),
            platform: root.platform ?? platformOf(manifest, store: store))
        try store.storeBytes(top.bytes, descriptor: stored)
        if let t = tag ?? reference.tag { try store.setTag(t, descriptor: stored) }
        return stored
    }

    /// Pulls `reference` with everything it refers to: for an index, every child manifest (and nested index) with
    /// all their blobs, the index bytes stored unchanged so the digest stays the same. The top-level descriptor is
    /// tagged `tag` (default: the reference's tag). A single manifest is pulled as by `pull`.
    @discardableResult
    public func pullAll(_ reference: ImageReference, into store: ImageStore, tag: String? = nil) async throws
        -> Descriptor
    {
        let top = try await fetchManifest(repository: reference.repository, reference: reference.reference)
        var stored = try await storeTree(top, repository: reference.repository, into: store, depth: 0)
        if stored.mediaType.isManifest, stored.platform == nil,
            let m = try? EncodedDocument<Manifest>(bytes: top.bytes, source: "").value
        {
            stored.platform = platformOf(m, store: store)
        }
        if let t = tag ?? reference.tag { try store.setTag(t, descriptor: stored) }
        return stored
    }

    /// Stores a fetched manifest or index after everything below it (children first, so a layout never points
    /// at missing content). Children of an index are fetched by digest and verified against their descriptors.
    private func storeTree(_ doc: FetchedManifest, repository: String, into store: ImageStore, depth: Int) async throws
        -> Descriptor
    {
        guard depth < 4 else {
            throw fail("fetching manifest \(doc.digest)", repository, "indexes nested more than 4 deep")
        }
        if doc.mediaType.isIndex {
            let index = try EncodedDocument<ImageIndex>(
                bytes: doc.bytes, source: "\(registry)/\(repository)@\(doc.digest) (index)"
            ).value
            var seen = Set<Digest>()
            for child in index.manifests where seen.insert(child.digest).inserted {
                if store.existingBlobFile(child.digest) != nil { continue }
                let fetched = try await fetchManifest(
                    repository: repository, reference: child.digest.string, expected: child)
                _ = try await storeTree(fetched, repository: repository, into: store, depth: depth + 1)
            }
        } else if let manifest = try? EncodedDocument<Manifest>(bytes: doc.bytes, source: "").value {
            try await downloadBlobs(referencedBlobs(manifest), repository: repository, into: store)
        } else if doc.mediaType.isManifest {
            // Fails with the decoder's explanation.
            _ = try EncodedDocument<Manifest>(
                bytes: doc.bytes, source: "\(registry)/\(repository)@\(doc.digest) (manifest)")
        }
        // Other child types (artifacts the index lists) are kept as their exact bytes.
        let d = doc.descriptor
        try store.storeBytes(doc.bytes, descriptor: d)
        return d
    }

    private func downloadBlobs(_ blobs: [Descriptor], repository repo: String, into store: ImageStore) async throws {
        try await forEachBounded(blobs, limit: options.downloadParallelism) { d in
            if store.existingBlobFile(d.digest) != nil { return }
            let tmp = try store.temporaryFilePath()
            do {
                try await self.downloadBlob(repository: repo, descriptor: d, to: tmp)
                try await offPool { try store.commitVerifiedBlob(file: tmp, descriptor: d) }
            } catch {
                unlink(tmp)
                throw error
            }
        }
    }

    private func platformOf(_ m: Manifest, store: ImageStore) -> Platform? {
        guard m.config.mediaType.isImageConfig, let bytes = try? store.readSmallBlob(m.config),
            let cfg = try? CanonicalJSON.decode(ImageConfig.self, from: bytes, source: "config")
        else { return nil }
        return cfg.platform
    }

    /// Pushes the image `tag` of `store` (an index with all its manifests, or one manifest) to `reference`.
    /// Returns the descriptor of the pushed root; the registry has it under the reference's tag (or digest).
    @discardableResult
    public func push(from store: ImageStore, tag: String?, to reference: ImageReference) async throws -> Descriptor {
        try await push(from: store, tag: tag, platform: nil, to: reference)
    }

    /// Like `push(from:tag:to:)`; with `platform`, an index is resolved to that platform's manifest and only that
    /// manifest is pushed.
    @discardableResult
    public func push(from store: ImageStore, tag: String?, platform: Platform?, to reference: ImageReference)
        async throws -> Descriptor
    {
        var root = try store.rootDescriptor(tag: tag)
        if let platform {
            root = try Self.manifest(for: platform, in: root, store: store, name: tag ?? "the image")
        }
        if let want = reference.digest, want != root.digest {
            throw OCIWriterError(.invalidReference, "cannot push to \(reference): the image's digest is \(root.digest)")
        }
        try await pushTree(
            root, store: store, repository: reference.repository, reference: reference.tag ?? root.digest.string)
        return root
    }

    /// The manifest for `platform` below `root` (itself when it is a manifest), searching nested indexes.
    static func manifest(for platform: Platform, in root: Descriptor, store: ImageStore, name: String) throws
        -> Descriptor
    {
        if !root.mediaType.isIndex { return root }
        var queue = [root]
        var available: [String] = []
        while !queue.isEmpty {
            let d = queue.removeFirst()
            let index = try EncodedDocument<ImageIndex>(bytes: try store.readSmallBlob(d), source: "index \(d.digest)")
                .value
            for child in index.manifests {
                if child.mediaType.isIndex {
                    queue.append(child)
                    continue
                }
                guard child.mediaType.isManifest, let p = child.platform else { continue }
                if platform.matches(p) { return child }
                available.append(p.description)
            }
        }
        throw OCIWriterError(
            .platformNotFound,
            "\(name) has no image for platform \(platform); available: \(available.isEmpty ? "none" : available.joined(separator: ", "))"
        )
    }

    private func pushTree(_ d: Descriptor, store: ImageStore, repository: String, reference: String) async throws {
        let bytes = try store.readSmallBlob(d)
        let mediaType = Self.detectMediaType(bytes, header: nil, expected: d.mediaType)
        if mediaType.isIndex {
            let index = try EncodedDocument<ImageIndex>(bytes: bytes, source: "index \(d.digest)").value
            for child in index.manifests where child.mediaType.isManifest || child.mediaType.isIndex {
                try await pushTree(child, store: store, repository: repository, reference: child.digest.string)
            }
        } else {
            let manifest = try EncodedDocument<Manifest>(bytes: bytes, source: "manifest \(d.digest)").value
            let blobs = referencedBlobs(manifest)
            var paths: [Digest: String] = [:]
            for b in blobs {
                guard let p = store.existingBlobFile(b.digest) else {
                    throw OCIWriterError(
                        .notFound,
                        "cannot push \(repository): blob \(b.digest) (\(b.mediaType)) referenced by manifest \(d.digest) is missing from the local image"
                    )
                }
                paths[b.digest] = p
            }
            let fixed = paths
            try await forEachBounded(blobs, limit: options.parallelism) { b in
                _ = try await self.pushBlob(repository: repository, descriptor: b, file: fixed[b.digest]!)
            }
        }
        try await putManifest(repository: repository, reference: reference, bytes: bytes, mediaType: mediaType)
    }
}
