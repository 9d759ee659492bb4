import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The credential for a registry host (nil: anonymous). Called once per registry a transfer talks to.
public typealias CredentialLookup = @Sendable (_ registry: String) throws -> RegistryCredential?

/// Moves images between OCI layouts, registries and docker-archive files: the one router behind `image
/// copy/pull/push`, the build engine's base pulls and its output. Registry clients are seeded with the blob
/// locations remembered from earlier runs (cross-repository mounts) and remember what they saw.
public struct ImageTransport: Sendable {
    public var options: RegistryOptions
    public var credentials: CredentialLookup
    /// One line per registry transfer (blobs uploaded, downloaded, skipped, mounted, retries).
    public var report: @Sendable (String) -> Void

    public init(
        options: RegistryOptions = RegistryOptions(),
        credentials: @escaping CredentialLookup = ImageTransport.storedCredentials,
        report: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.options = options
        self.credentials = credentials
        self.report = report
    }

    /// Stored logins (`ociforge login`, docker's config.json, $REGISTRY_AUTH_FILE).
    public static let storedCredentials: CredentialLookup = { registry in
        try CredentialStore().lookup(registry: registry)
    }

    /// A client for `registry` with this transport's options (`mountFrom`: repositories to mount blobs from).
    public func client(_ registry: String, mountFrom: [String]? = nil) async throws -> RegistryClient {
        var o = options
        if let mountFrom { o.mountFrom = mountFrom }
        let c = try RegistryClient(registry: registry, credential: try credentials(registry), options: o)
        await c.rememberLocations(BlobLocationCache().load(registry: c.registry))
        return c
    }

    /// Remembers where `c` saw or put blobs, and reports its transfer.
    public func finish(_ c: RegistryClient, verb: String) async {
        BlobLocationCache().merge(registry: c.registry, locations: await c.knownBlobLocations())
        let s = c.stats
        let up = await s.blobBytesUploaded, down = await s.blobBytesDownloaded
        report(
            "\(verb): \(await s.blobsUploaded) blob(s) uploaded (\(up) bytes), \(await s.blobsDownloaded) downloaded (\(down) bytes), \(await s.blobsSkipped) already present, \(await s.blobsMounted) mounted, \(await s.retries) retries"
        )
    }

    /// Copies `src` to `dst`; returns the digest of the top-level manifest or index written.
    ///
    /// `allPlatforms`: a registry index is copied whole (every child manifest and blob, the index bytes unchanged)
    /// instead of resolving it to `platform`.
    public func copy(_ src: ImageLocation, _ dst: ImageLocation, platform: Platform? = nil, allPlatforms: Bool = false)
        async throws -> Digest
    {
        if allPlatforms, case .dockerArchive = dst {
            throw OCIWriterError(
                .invalidArgument,
                "a docker-archive holds one image per name, not an index: choose one platform with --platform instead of --all-platforms"
            )
        }
        func pull(_ c: RegistryClient, _ ref: ImageReference, into layout: OCILayout, tag: String) async throws
            -> Descriptor
        {
            allPlatforms
                ? try await c.pullAll(ref, into: layout, tag: tag)
                : try await c.pull(ref, into: layout, tag: tag, platform: platform)
        }
        switch (src, dst) {
        case (.registry(let ref), .ociLayout(let path, let tag)):
            let layout = try Self.openOrCreate(path)
            let c = try await client(ref.registry)
            let d = try await pull(c, ref, into: layout, tag: tag ?? ref.tag ?? "latest")
            await finish(c, verb: "pulled")
            return d.digest
        case (.ociLayout(let path, let tag), .registry(let ref)):
            return try await push(
                from: try OCILayout.open(at: path), tag: tag, platform: allPlatforms ? nil : platform, to: ref)
        case (.registry(let from), .registry(let to)):
            return try await Self.withTemporaryLayout { layout in
                let a = try await client(from.registry)
                let sameRegistry = from.registry == to.registry
                let pusher =
                    sameRegistry && from.repository != to.repository
                    ? try await client(to.registry, mountFrom: [from.repository])
                    : (sameRegistry ? a : try await client(to.registry))
                _ = try await pull(a, from, into: layout, tag: "copy")
                BlobLocationCache().merge(registry: a.registry, locations: await a.knownBlobLocations())
                let d = try await pusher.push(from: layout, tag: "copy", to: to)
                await finish(pusher, verb: "pushed")
                return d.digest
            }
        case (.ociLayout(let sp, let st), .ociLayout(let dp, let dt)):
            let source = try OCILayout.open(at: sp)
            let target = try Self.openOrCreate(dp)
            let root = try source.rootDescriptor(tag: st)
            try Self.copyTree(root, from: source, to: target)
            guard let t = dt ?? st else {
                try target.addToIndex(root)
                return root.digest
            }
            try target.tag(root, as: t)
            return root.digest
        case (.dockerArchive(let path, let reference), _):
            return try await Self.withTemporaryLayout { layout in
                try DockerArchive.read(path, reference: reference, into: layout, tag: "archive")
                return try await copy(.ociLayout(path: layout.path, tag: "archive"), dst, platform: platform)
            }
        case (.ociLayout(let path, let tag), .dockerArchive(let out, let reference)):
            let layout = try OCILayout.open(at: path)
            try DockerArchive.write(from: layout, tag: tag, platform: platform, to: out, repoTag: reference)
            return try layout.resolve(tag: tag, platform: platform).manifestDescriptor.digest
        case (.registry(let ref), .dockerArchive):
            return try await Self.withTemporaryLayout { layout in
                let c = try await client(ref.registry)
                _ = try await pull(c, ref, into: layout, tag: "copy")
                BlobLocationCache().merge(registry: c.registry, locations: await c.knownBlobLocations())
                var target = dst
                if case .dockerArchive(let p, nil) = dst {
                    target = .dockerArchive(
                        path: p, reference: "\(ref.registry)/\(ref.repository):\(ref.tag ?? "latest")")
                }
                return try await copy(.ociLayout(path: layout.path, tag: "copy"), target, platform: platform)
            }
        }
    }

    /// Pushes the image tagged `tag` (nil: the layout's only image) of `layout` to `ref`; with `platform`, only that
    /// platform's manifest of an index. `mountFrom`: repositories of the same registry to mount blobs from.
    public func push(
        from layout: OCILayout, tag: String?, platform: Platform? = nil, to ref: ImageReference,
        mountFrom: [String]? = nil
    ) async throws -> Digest {
        let c = try await client(ref.registry, mountFrom: mountFrom)
        let d = try await c.push(from: layout, tag: tag, platform: platform, to: ref)
        await finish(c, verb: "pushed")
        return d.digest
    }

    /// `copy` for callers that block a thread of their own (never call it on the cooperative pool).
    public func copyBlocking(
        _ src: ImageLocation, _ dst: ImageLocation, platform: Platform? = nil, allPlatforms: Bool = false
    ) throws -> Digest {
        let box = Mutex<Result<Digest, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                let d = try await copy(src, dst, platform: platform, allPlatforms: allPlatforms)
                box.withLock { $0 = .success(d) }
            } catch { box.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0 }!.get()
    }

    /// Writes every tagged image of the layout `src` into the docker-archive `dst`, or imports every image of the
    /// docker-archive `src` into the layout `dst`; returns (digest, name) pairs.
    public static func copyAllTags(_ src: ImageLocation, _ dst: ImageLocation, platform: Platform?) throws -> [(
        Digest, String
    )] {
        if case .dockerArchive(let archive, let selector) = src, case .ociLayout(let path, let tag) = dst {
            guard selector == nil, tag == nil else {
                throw OCIWriterError(
                    .invalidArgument,
                    "--all-tags imports every image of docker-archive:<file> (no name or @index) into oci-layout:<dir> (no tag): the archive's names become the tags"
                )
            }
            let images = try DockerArchive.readAll(archive, into: try openOrCreate(path))
            return images.flatMap { i in
                i.names.isEmpty ? [(i.descriptor.digest, "(untagged)")] : i.names.map { (i.descriptor.digest, $0) }
            }
        }
        guard case .ociLayout(let path, nil) = src, case .dockerArchive(let out, let repository) = dst else {
            throw OCIWriterError(
                .invalidArgument,
                "--all-tags copies every tag of oci-layout:<dir> (without a tag) into docker-archive:<file>[:<repository>], or every image of docker-archive:<file> into oci-layout:<dir>"
            )
        }
        if let repository, repository.contains("@") || (repository.split(separator: "/").last ?? "").contains(":") {
            throw OCIWriterError(
                .invalidArgument,
                "with --all-tags, docker-archive:<file>:<repository> names the repository only (the layout's tags become the tags): '\(repository)' has a tag or digest"
            )
        }
        let images = try DockerArchive.writeAllTags(
            from: try OCILayout.open(at: path), platform: platform, to: out,
            repository: repository)
        return images.map { ($0.image.manifestDescriptor.digest, DockerArchive.normalisedRepoTag($0.repoTags[0])) }
    }

    static func openOrCreate(_ path: String) throws -> OCILayout {
        OCILayout.isLayout(path) ? try OCILayout.open(at: path) : try OCILayout.create(at: path)
    }

    static func withTemporaryLayout<T>(_ body: (OCILayout) async throws -> T) async throws -> T {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let dir = base + "/ociforge-copy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await body(try OCILayout.create(at: dir))
    }

    static func copyTree(_ d: Descriptor, from source: OCILayout, to target: OCILayout) throws {
        if d.mediaType.isIndex {
            let index = try source.readDocument(ImageIndex.self, d).value
            for child in index.manifests where child.mediaType.isIndex || child.mediaType.isManifest {
                try copyTree(child, from: source, to: target)
            }
        } else if d.mediaType.isManifest {
            let m = try source.readDocument(Manifest.self, d).value
            for b in [m.config] + m.layers { try target.copyBlob(b, from: source) }
        }
        try target.copyBlob(d, from: source)
    }
}
