#if canImport(Glibc)
    import Glibc
#endif

// index.json: tags, atomic locked updates, and reference/platform resolution.
extension OCILayout {
    /// Reads `index.json` (exact bytes kept).
    public func readIndexDocument() throws -> EncodedDocument<ImageIndex> {
        let bytes: [UInt8]
        do {
            bytes = try LayoutIO.readFile(indexPath, limit: Self.documentLimit)
        } catch let e as OCIWriterError where e.code == .notFound {
            throw OCIWriterError(.layout, "not a valid OCI image layout: index.json is missing", path: path)
        }
        return try EncodedDocument<ImageIndex>(bytes: bytes, source: indexPath)
    }

    public func readIndex() throws -> ImageIndex { try readIndexDocument().value }

    /// Tags (ref names) in index.json, in index order, without duplicates.
    public func tags() throws -> [String] {
        var seen = Set<String>()
        return try readIndex().manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }.filter {
            seen.insert($0).inserted
        }
    }

    /// Runs `body` on index.json under an exclusive lock and writes the result atomically.
    ///
    /// The lock is a `flock(2)` on the layout directory, taken through a fresh open file description, so it
    /// excludes other threads, other `OCILayout` values and other processes following the same protocol.
    @discardableResult
    public func updateIndex<R>(_ body: (inout ImageIndex) throws -> R) throws -> R {
        let lockFD = LayoutIO.retrying { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard lockFD >= 0 else { throw OCIWriterError.sys("cannot open the layout directory to lock it", path: path) }
        defer { Glibc.close(lockFD) }  // closing releases the lock
        guard LayoutIO.retrying({ flock(lockFD, LOCK_EX) }) == 0 else {
            throw OCIWriterError.sys("cannot lock the layout (flock)", path: path)
        }
        var index = try readIndex()
        let result = try body(&index)
        index.schemaVersion = 2
        if index.mediaType == nil { index.mediaType = .ociIndex }
        try LayoutIO.writeFileAtomically(indexPath, try CanonicalJSON.encode(index))
        return result
    }

    /// Adds `descriptor` to index.json under `tag`, replacing whatever that tag named before.
    public func tag(_ descriptor: Descriptor, as tag: String) throws {
        try Self.validateTag(tag)
        var entry = descriptor
        var annotations = entry.annotations ?? [:]
        annotations[Descriptor.refNameAnnotation] = tag
        entry.annotations = annotations
        try updateIndex { index in
            index.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            index.manifests.append(entry)
        }
    }

    /// Adds an untagged descriptor to index.json (no-op when an identical entry is present).
    public func addToIndex(_ descriptor: Descriptor) throws {
        try updateIndex { index in
            if !index.manifests.contains(descriptor) { index.manifests.append(descriptor) }
        }
    }

    /// Removes every index.json entry named `tag`; throws `.notFound` when there is none.
    public func removeTag(_ tag: String) throws {
        try updateIndex { index in
            let before = index.manifests.count
            index.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            if index.manifests.count == before {
                throw OCIWriterError(.notFound, "no image tagged '\(tag)' in this layout", path: path)
            }
        }
    }

    /// Validates a ref name against the image-spec grammar:
    /// `component ("/" component)*`, `component ::= alphanum (separator alphanum)*`, `alphanum ::= [A-Za-z0-9]+`,
    /// `separator ::= [-._:@+] | "--"`.
    public static func validateTag(_ tag: String) throws {
        func fail(_ why: String) -> OCIWriterError {
            OCIWriterError(
                .invalidReference,
                "invalid tag '\(tag.count > 80 ? String(tag.prefix(80)) + "…" : tag)': \(why) (allowed: letters, digits and the separators - . _ : @ + -- between them, components joined by /)"
            )
        }
        guard !tag.isEmpty else { throw fail("empty") }
        guard tag.utf8.count <= 1024 else { throw fail("longer than 1024 bytes") }
        func isAlnum(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        let seps: Set<UInt8> = Set("-._:@+".utf8)
        for component in tag.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            let c = Array(component)
            guard !c.isEmpty else { throw fail("empty path component") }
            var i = 0
            while true {
                let start = i
                while i < c.count && isAlnum(c[i]) { i += 1 }
                guard i > start else {
                    throw fail(
                        "each component must start and end with a letter or digit, and separators must sit between them"
                    )
                }
                if i == c.count { break }
                if i + 1 < c.count && c[i] == UInt8(ascii: "-") && c[i + 1] == UInt8(ascii: "-") {
                    i += 2
                } else if seps.contains(c[i]) {
                    i += 1
                } else {
                    throw fail("character '\(Character(Unicode.Scalar(c[i])))' is not allowed")
                }
            }
        }
    }

    // MARK: - Resolution

    /// Resolves `tag` (or, without a tag, the layout's only image) to a manifest, descending through image indexes
    /// by `platform` (default: the host's). Manifest and config are read, verified and decoded.
    public func resolve(tag: String? = nil, platform: Platform? = nil) throws -> ResolvedImage {
        let index = try readIndex()
        var candidates: [Descriptor]
        if let tag {
            candidates = index.manifests.filter { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            guard !candidates.isEmpty else {
                let known = try tags()
                throw OCIWriterError(
                    .notFound,
                    "no image tagged '\(tag)' in this layout; \(known.isEmpty ? "it has no tags" : "tags: " + known.joined(separator: ", "))",
                    path: path)
            }
        } else {
            // Artifacts stored beside an image (referrers) are not images of their own.
            let images = index.manifests.filter { !Self.isReferrerEntry($0) }
            guard !images.isEmpty else {
                throw OCIWriterError(.notFound, "the layout's index.json lists no images", path: path)
            }
            if images.count > 1 {
                let known = try tags()
                throw OCIWriterError(
                    .invalidReference,
                    "the layout holds \(images.count) images: name one with path:tag; \(known.isEmpty ? "none is tagged" : "tags: " + known.joined(separator: ", "))",
                    path: path)
            }
            candidates = images
        }
        var chain: [Descriptor] = []
        let top: Descriptor
        if candidates.count == 1 {
            top = candidates[0]
        } else {
            top = try choose(from: candidates, platform: platform, source: "index.json entries tagged '\(tag ?? "")'")
        }
        var current = top
        for _ in 0..<8 {
            let bytes = try readBlob(current)
            let source = "blob \(current.digest) (\(current.mediaType))"
            switch try Self.documentKind(of: bytes, declared: current.mediaType, source: source) {
            case .index:
                let doc = try EncodedDocument<ImageIndex>(bytes: bytes, source: source)
                try Self.checkDeclaredType(doc.value.mediaType, descriptor: current, source: source)
                chain.append(current)
                current = try choose(from: doc.value.manifests, platform: platform, source: source)
            case .manifest:
                let doc = try EncodedDocument<Manifest>(bytes: bytes, source: source)
                try Self.checkDeclaredType(doc.value.mediaType, descriptor: current, source: source)
                let configDesc = doc.value.config
                guard configDesc.mediaType.isImageConfig else {
                    throw OCIWriterError(
                        .unsupportedMediaType,
                        "manifest \(current.digest) is not a container image: its config has media type \(configDesc.mediaType)",
                        path: blobPath(current.digest))
                }
                let config = try readDocument(ImageConfig.self, configDesc)
                if let platform, chain.isEmpty, !platform.matches(config.value.platform) {
                    throw OCIWriterError(
                        .platformNotFound,
                        "image \(tag.map { "'\($0)'" } ?? current.digest.string) is for \(config.value.platform), not \(platform)",
                        path: path)
                }
                return ResolvedImage(
                    layout: self, tag: tag, top: top, indexes: chain, manifestDescriptor: current, manifest: doc,
                    config: config)
            }
        }
        throw OCIWriterError(.invalidImage, "image indexes nested more than 8 deep", path: path)
    }

    enum DocumentKind { case index, manifest }

    /// Decides whether a blob is an index or a manifest from its declared media type, falling back to its shape
    /// (documents with both `manifests` and `config`/`layers` are refused by the decoders).
    static func documentKind(of bytes: [UInt8], declared: MediaType, source: String) throws -> DocumentKind {
        if declared.isIndex { return .index }
        if declared.isManifest { return .manifest }
        struct Shape: Decodable {
            var mediaType: String?
            var manifests: [AnyDecodable]?
            var config: AnyDecodable?
        }
        struct AnyDecodable: Decodable { init(from decoder: Decoder) throws {} }
        let shape = try CanonicalJSON.decode(Shape.self, from: bytes, source: source)
        if let t = shape.mediaType.map(MediaType.init(rawValue:)) {
            if t.isIndex { return .index }
            if t.isManifest { return .manifest }
        }
        if shape.manifests != nil && shape.config != nil {
            throw OCIWriterError(
                .invalidImage, "document has both 'manifests' and 'config': refusing an ambiguous manifest/index",
                path: source)
        }
        if shape.manifests != nil { return .index }
        if shape.config != nil && shape.manifests == nil { return .manifest }
        throw OCIWriterError(
            .unsupportedMediaType, "descriptor media type \(declared) is neither an image index nor an image manifest",
            path: source)
    }

    static func checkDeclaredType(_ inDocument: MediaType?, descriptor: Descriptor, source: String) throws {
        if let inDocument, inDocument != descriptor.mediaType,
            descriptor.mediaType.isIndex || descriptor.mediaType.isManifest
        {
            throw OCIWriterError(
                .invalidImage,
                "document declares media type \(inDocument) but its descriptor says \(descriptor.mediaType)",
                path: source)
        }
    }

    /// Picks the entry of an index for `platform` (default: host). Entries for other platforms are skipped;
    /// an entry without a platform is taken only when nothing matches explicitly.
    func choose(from manifests: [Descriptor], platform: Platform?, source: String) throws -> Descriptor {
        let want = platform ?? .host
        let usable = manifests.filter { $0.mediaType.isIndex || $0.mediaType.isManifest }
        if let exact = usable.first(where: { $0.platform.map(want.matches) == true }) { return exact }
        let unplatformed = usable.filter { $0.platform == nil }
        if unplatformed.count == 1 { return unplatformed[0] }
        let available = usable.compactMap { $0.platform?.description }
        throw OCIWriterError(
            .platformNotFound,
            "no image for platform \(want) in \(source); available: \(available.isEmpty ? "none with a platform" : available.joined(separator: ", "))",
            path: path)
    }
}

/// An image found in a layout: the manifest and config, read and verified.
public struct ResolvedImage: Sendable {
    public var layout: OCILayout
    public var tag: String?
    /// The index.json entry the resolution started from (a manifest or an index).
    public var top: Descriptor
    /// Image indexes traversed, outermost first (empty when `top` is the manifest).
    public var indexes: [Descriptor]
    public var manifestDescriptor: Descriptor
    public var manifest: EncodedDocument<Manifest>
    public var config: EncodedDocument<ImageConfig>

    public var platform: Platform { config.value.platform }
}

/// A `path[:tag]` layout reference.
///
/// Rule (paths may contain ':'): when the whole string names an existing directory, it is the layout and there is
/// no tag. Otherwise the layout path is the longest prefix ending just before a ':' that names an existing
/// directory, and the rest is the tag (so tags containing ':' work for existing layouts). When no prefix exists
/// (a layout to be created), the tag is what follows the last ':'. A trailing ':' (empty tag) is an error.
/// Transport prefixes such as `oci-layout:` are not handled here.
public struct LayoutReference: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var tag: String?

    public init(path: String, tag: String?) {
        self.path = path
        self.tag = tag
    }

    public init(parsing s: String) throws {
        guard !s.isEmpty else { throw OCIWriterError(.invalidReference, "empty layout reference: expected path[:tag]") }
        if LayoutIO.isDirectory(s) || !s.contains(":") {
            self.init(path: s, tag: nil)
            return
        }
        let colons = s.indices.filter { s[$0] == ":" }
        var split: String.Index? = nil
        for i in colons.reversed() where LayoutIO.isDirectory(String(s[..<i])) {
            split = i
            break
        }
        let at = split ?? colons.last!
        let path = String(s[..<at])
        let tag = String(s[s.index(after: at)...])
        guard !path.isEmpty else {
            throw OCIWriterError(.invalidReference, "invalid layout reference '\(s)': the path before ':' is empty")
        }
        guard !tag.isEmpty else {
            throw OCIWriterError(.invalidReference, "invalid layout reference '\(s)': empty tag after ':'")
        }
        try OCILayout.validateTag(tag)
        self.init(path: path, tag: tag)
    }

    public var description: String { tag.map { path + ":" + $0 } ?? path }
}

/// A layer of a resolved image as a file in the layout (for extraction).
public struct ResolvedLayerBlob: Sendable, Hashable {
    /// `blobs/sha256/<hex>` inside the layout.
    public var path: String
    public var descriptor: Descriptor
    public var compression: LayerCompression
    /// The config's `rootfs.diff_ids` entry for this layer, when present.
    public var diffID: Digest?
}

extension ResolvedImage {
    /// The image's layer files, bottom to top. With `verify` (the default) every blob's size and digest is
    /// re-derived first; a layer of a media type that is not a tar layer, or a missing blob, is an error.
    public func layerBlobs(verify: Bool = true) throws -> [ResolvedLayerBlob] {
        let diffIDs = config.value.rootfs.diffIDs
        return try manifest.value.layers.enumerated().map { i, d in
            guard let compression = d.mediaType.layerCompression else {
                throw OCIWriterError(
                    .unsupportedMediaType,
                    "layer \(i) (\(d.digest)) has media type \(d.mediaType), which is not a tar layer",
                    path: layout.path)
            }
            if verify {
                try layout.verifyBlob(d)
            } else if !layout.hasBlob(d.digest) {
                throw OCIWriterError(
                    .notFound, "blob \(d.digest) is missing from the layout", path: layout.blobPath(d.digest))
            }
            return ResolvedLayerBlob(
                path: layout.blobPath(d.digest), descriptor: d, compression: compression,
                diffID: i < diffIDs.count ? diffIDs[i] : nil)
        }
    }
}
