import Foundation

/// What `ociforge image inspect` shows: one image of a layout, summarized. Encodable as JSON (sorted keys via
/// `CanonicalJSON`) or rendered as text with `text()`.
public struct ImageSummary: Sendable, Codable, Hashable {
    public struct Layer: Sendable, Codable, Hashable {
        public var digest: Digest
        public var diffID: Digest?
        public var mediaType: MediaType
        public var size: Int64
    }

    /// One entry of the (outermost) image index the image was found through.
    public struct IndexEntry: Sendable, Codable, Hashable {
        /// `os/arch[/variant]`, nil when the entry names none.
        public var platform: String?
        public var digest: Digest
        public var mediaType: MediaType
        public var size: Int64
    }

    public var layout: String
    /// The tag asked for (nil: the layout's only image).
    public var tag: String?
    /// Every tag in index.json naming the same top-level entry.
    public var tags: [String]
    /// When the image was found through image indexes: their digests, outermost first.
    public var indexDigests: [Digest]
    /// Every entry of the outermost index (every platform of a multi-platform image); nil for a lone manifest.
    public var platforms: [IndexEntry]?
    public var manifestDigest: Digest
    public var manifestMediaType: MediaType
    public var manifestSize: Int64
    public var configDigest: Digest
    public var configMediaType: MediaType
    public var platform: String
    public var created: String?
    public var author: String?
    public var config: ContainerConfig?
    public var layers: [Layer]
    /// Sum of the layer blob sizes.
    public var totalLayerSize: Int64
    public var history: [History]
    public var annotations: [String: String]?

    public init(_ image: ResolvedImage) throws {
        let index = try image.layout.readIndex()
        layout = image.layout.path
        tag = image.tag
        tags = index.manifests.filter { $0.digest == image.top.digest }
            .compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
        indexDigests = image.indexes.map(\.digest)
        if let outer = image.indexes.first {
            platforms = try image.layout.readDocument(ImageIndex.self, outer).value.manifests.map {
                IndexEntry(
                    platform: $0.platform?.description, digest: $0.digest, mediaType: $0.mediaType, size: $0.size)
            }
        }
        manifestDigest = image.manifestDescriptor.digest
        manifestMediaType = image.manifestDescriptor.mediaType
        manifestSize = image.manifestDescriptor.size
        configDigest = image.manifest.value.config.digest
        configMediaType = image.manifest.value.config.mediaType
        let c = image.config.value
        platform = c.platform.description
        created = c.created
        author = c.author
        config = c.config
        let diffIDs = c.rootfs.diffIDs
        layers = image.manifest.value.layers.enumerated().map { i, d in
            Layer(digest: d.digest, diffID: i < diffIDs.count ? diffIDs[i] : nil, mediaType: d.mediaType, size: d.size)
        }
        totalLayerSize = layers.reduce(0) { $0 + $1.size }
        history = c.history ?? []
        annotations = image.manifest.value.annotations
    }

    /// Human-readable rendering.
    public func text() -> String {
        var out: [String] = []
        func line(_ k: String, _ v: String) { out.append(k.padding(toLength: 14, withPad: " ", startingAt: 0) + v) }
        line("Layout:", layout)
        line("Tags:", tags.isEmpty ? "(none)" : tags.joined(separator: ", "))
        for d in indexDigests { line("Index:", d.string) }
        for p in platforms ?? [] {
            let shown = p.digest == manifestDigest ? "  (shown below)" : ""
            line("Platform:", "\(p.platform ?? "(none)")  \(p.digest)  \(Self.humanSize(p.size))\(shown)")
        }
        line("Manifest:", "\(manifestDigest) (\(manifestMediaType), \(manifestSize) bytes)")
        line("Config:", "\(configDigest)")
        line(platforms == nil ? "Platform:" : "Shown:", platform)
        if let created { line("Created:", created) }
        if let author { line("Author:", author) }
        if let cc = config {
            if let e = cc.entrypoint { line("Entrypoint:", Self.quoted(e)) }
            if let c = cc.cmd { line("Cmd:", Self.quoted(c)) }
            if let w = cc.workingDir { line("WorkingDir:", w) }
            if let u = cc.user { line("User:", u) }
            for e in cc.env ?? [] { line("Env:", e) }
            for p in (cc.exposedPorts ?? [:]).keys.sorted() { line("ExposedPort:", p) }
            for (k, v) in (cc.labels ?? [:]).sorted(by: { $0.key < $1.key }) { line("Label:", "\(k)=\(v)") }
            if let s = cc.stopSignal { line("StopSignal:", s) }
        }
        for (k, v) in (annotations ?? [:]).sorted(by: { $0.key < $1.key }) { line("Annotation:", "\(k)=\(v)") }
        out.append("Layers (\(layers.count), \(Self.humanSize(totalLayerSize))):")
        for (i, l) in layers.enumerated() {
            out.append("  [\(i)] \(l.digest)  \(Self.humanSize(l.size))  \(l.mediaType)")
            if let d = l.diffID { out.append("      diffID \(d)") }
        }
        if !history.isEmpty {
            out.append("History (\(history.count)):")
            for h in history {
                var s = "  " + (h.created ?? "-")
                if h.emptyLayer == true { s += " (no layer)" }
                if let c = h.createdBy { s += "  " + c }
                if let c = h.comment { s += "  # " + c }
                out.append(s)
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func quoted(_ args: [String]) -> String {
        "["
            + args.map {
                "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            .joined(separator: ", ") + "]"
    }

    static func humanSize(_ n: Int64) -> String {
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var v = Double(n) / 1024
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[u])"
    }
}

extension OCILayout {
    /// Resolves and summarizes an image (for `image inspect`).
    public func inspect(tag: String? = nil, platform: Platform? = nil) throws -> ImageSummary {
        try ImageSummary(try resolve(tag: tag, platform: platform))
    }
}
