import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `docker-archive:` tarballs, as `docker save` writes and `docker load` / `podman load` read.
///
/// Written archives use the layout of Docker 25+: `manifest.json` (the docker-archive index) plus `oci-layout`,
/// `index.json` and `blobs/sha256/<hex>` for config, layers and manifest, so the file is at the same time a valid
/// docker-archive and a tarred OCI layout. Layers are stored as they are (compressed); docker and podman detect the
/// compression. Reading accepts both that layout and the classic `<id>/layer.tar` form, compressed or not.
public enum DockerArchive {
    struct ManifestEntry: Codable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// One image of an archive being written: a resolved manifest and the names `load` gives it.
    public struct Image: Sendable {
        public var image: ResolvedImage
        /// `repository:tag` names (normalised to `registry/repository:tag` in the archive).
        public var repoTags: [String]
        public init(image: ResolvedImage, repoTags: [String]) {
            self.image = image
            self.repoTags = repoTags
        }
    }

    /// Writes the image `tag` of `layout` (a manifest, or the host platform's manifest of an index) to `path`.
    /// `repoTag` (e.g. `app:1`) goes into RepoTags so `load` names the image. The archive is written to a
    /// temporary file next to `path` and renamed when complete.
    public static func write(
        from layout: OCILayout, tag: String?, platform: Platform? = nil, to path: String,
        repoTag: String?
    ) throws {
        let image = try layout.resolve(tag: tag, platform: platform)
        try write([Image(image: image, repoTags: repoTag.map { [$0] } ?? [])], layout: layout, to: path)
    }

    /// Writes every tagged image of `layout` to `path`, one manifest.json entry per distinct manifest (indexes
    /// resolved to `platform`, default the host's). Each layout tag becomes a RepoTag: `<repository>:<tag>` when
    /// `repository` is given, else the tag itself, which must then be a full name such as `app:1`.
    /// Returns the images written, in layout order.
    @discardableResult
    public static func writeAllTags(
        from layout: OCILayout, platform: Platform? = nil, to path: String,
        repository: String?
    ) throws -> [Image] {
        let tags = try layout.tags()
        guard !tags.isEmpty else {
            throw OCIWriterError(
                .notFound, "the layout has no tagged images to write to a docker-archive", path: layout.path)
        }
        var images: [Image] = []
        for t in tags {
            let name: String
            if let repository {
                name = repository + ":" + t
            } else {
                guard t.contains(":"), let r = try? ImageReference(parsing: t), r.tag != nil, r.digest == nil else {
                    throw OCIWriterError(
                        .invalidReference,
                        "layout tag '\(t)' is not an image name with a tag (like app:1): name the repository for the archive's RepoTags, e.g. docker-archive:\(path):<repository>",
                        path: layout.path)
                }
                name = t
            }
            _ = try ImageReference(parsing: name)
            images.append(Image(image: try layout.resolve(tag: t, platform: platform), repoTags: [name]))
        }
        try write(images, layout: layout, to: path)
        return images
    }

    /// Writes `images` (all from `layout`) as one docker-archive: manifest.json lists each distinct manifest once
    /// with all its names; blobs shared between images are stored once.
    public static func write(_ images: [Image], layout: OCILayout, to path: String) throws {
        guard !images.isEmpty else {
            throw OCIWriterError(.invalidArgument, "no image to write to the archive", path: path)
        }
        // Group by manifest, keeping first-seen order; a name may not point at two different images.
        var order: [Digest] = []
        var byDigest: [Digest: (image: ResolvedImage, names: [String])] = [:]
        var owner: [String: Digest] = [:]
        for img in images {
            let d = img.image.manifestDescriptor.digest
            if byDigest[d] == nil {
                order.append(d)
                byDigest[d] = (img.image, [])
            }
            for raw in img.repoTags {
                let name = normalisedRepoTag(raw)
                if let other = owner[name], other != d {
                    throw OCIWriterError(
                        .invalidArgument,
                        "the name '\(name)' would refer to two images (\(other) and \(d)) in the archive", path: path)
                }
                if owner[name] == nil {
                    owner[name] = d
                    byDigest[d]!.names.append(name)
                }
            }
        }
        var entries: [ManifestEntry] = []
        var indexEntries: [Descriptor] = []
        var blobs: [Descriptor] = []
        var seenBlobs = Set<Digest>()
        for d in order {
            let (image, names) = byDigest[d]!
            let manifest = image.manifest.value
            entries.append(
                ManifestEntry(
                    Config: "blobs/sha256/" + manifest.config.digest.hex,
                    RepoTags: names.isEmpty ? nil : names,
                    Layers: manifest.layers.map { "blobs/sha256/" + $0.digest.hex }))
            let md = image.manifestDescriptor
            let plain = Descriptor(mediaType: md.mediaType, digest: md.digest, size: md.size)
            if names.isEmpty {
                indexEntries.append(plain)
            } else {
                for n in names {
                    var e = plain
                    e.annotations = [Descriptor.refNameAnnotation: n]
                    indexEntries.append(e)
                }
            }
            for b in [manifest.config] + manifest.layers + [md] where seenBlobs.insert(b.digest).inserted {
                blobs.append(b)
            }
        }
        let entryBytes = try CanonicalJSON.encode(entries)
        let index = try CanonicalJSON.encode(ImageIndex(manifests: indexEntries))

        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.ociforge-tmp-archive-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot create the archive", path: tmp) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(tmp) }
        }
        let w = TarWriter(fd: fd, path: tmp)
        try w.directory("blobs/")
        try w.directory("blobs/sha256/")
        for b in blobs {
            try w.file("blobs/sha256/" + b.digest.hex, from: layout.blobPath(b.digest), size: b.size)
        }
        try w.bytes("index.json", index)
        try w.bytes("manifest.json", entryBytes)
        try w.bytes("oci-layout", OCILayout.layoutFileBytes)
        try w.finish()
        guard fsync(fd) == 0 else { throw OCIWriterError.sys("cannot sync the archive", path: tmp) }
        guard rename(tmp, path) == 0 else { throw OCIWriterError.sys("cannot move the archive into place", path: path) }
        ok = true
    }

    /// `name` → `docker.io/library/name:latest` style, as docker and podman store RepoTags.
    public static func normalisedRepoTag(_ s: String) -> String {
        guard let r = try? ImageReference(parsing: s) else { return s }
        return "\(r.registry)/\(r.repository):\(r.tag ?? "latest")"
    }

    /// How an image of an archive is chosen: skopeo's `docker-archive:<file>:<name>` or `:@<index>`.
    enum Selector: Equatable {
        case only
        case name(String)
        case index(Int)

        init(_ reference: String?) throws {
            guard let reference else {
                self = .only
                return
            }
            if reference.hasPrefix("@") {
                guard let n = Int(reference.dropFirst()), n >= 0, reference.count > 1,
                    reference.dropFirst().allSatisfy(\.isASCII), reference.dropFirst().allSatisfy(\.isNumber)
                else {
                    throw OCIWriterError(
                        .invalidReference,
                        "invalid archive image index '\(reference)': expected @ followed by a number (@0 is the first image)"
                    )
                }
                self = .index(n)
            } else {
                self = .name(reference)
            }
        }
    }

    /// The RepoTags of each manifest.json entry of the archive at `path`, in order (entry N is `@N`).
    public static func list(_ path: String) throws -> [[String]] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open the archive", path: path) }
        defer { close(fd) }
        let reader = TarReader(fd: fd, path: path)
        while let entry = try reader.next() {
            guard entry.isRegular, clean(entry.name) == "manifest.json" else { continue }
            guard entry.size <= 16 << 20 else {
                throw OCIWriterError(.invalidImage, "manifest.json is larger than 16 MiB", path: path)
            }
            let bytes = try reader.readBody()
            return try CanonicalJSON.decode([ManifestEntry].self, from: bytes, source: path + ":manifest.json").map {
                $0.RepoTags ?? []
            }
        }
        throw OCIWriterError(.invalidImage, "not a docker-archive: manifest.json is missing", path: path)
    }

    static func choose(_ entries: [ManifestEntry], _ selector: Selector, path: String) throws -> ManifestEntry {
        func described() -> String {
            entries.enumerated().map { i, e in
                "@\(i) " + ((e.RepoTags ?? []).isEmpty ? "(no name)" : (e.RepoTags ?? []).joined(separator: " "))
            }
            .joined(separator: ", ")
        }
        switch selector {
        case .only:
            guard let e = entries.first else {
                throw OCIWriterError(.invalidImage, "manifest.json lists no image", path: path)
            }
            guard entries.count == 1 else {
                throw OCIWriterError(
                    .invalidReference,
                    "the archive holds \(entries.count) images: choose one with docker-archive:\(path):<name> or :@<index> (\(described()))",
                    path: path)
            }
            return e
        case .index(let n):
            guard n < entries.count else {
                throw OCIWriterError(
                    .notFound, "the archive has no image @\(n): it holds \(entries.count) (\(described()))", path: path)
            }
            return entries[n]
        case .name(let reference):
            let want = normalisedRepoTag(reference)
            let matches = entries.filter {
                ($0.RepoTags ?? []).contains { $0 == reference || normalisedRepoTag($0) == want }
            }
            guard let e = matches.first else {
                throw OCIWriterError(
                    .notFound, "the archive has no image named '\(reference)'; it has: \(described())", path: path)
            }
            return e
        }
    }

    /// Imports one image of a docker-archive into `layout` as an OCI image tagged `tag`: the only one, the one with
    /// RepoTag `reference`, or the `@N`th entry of manifest.json when `reference` is `@N`. Every file is streamed to
    /// a temporary file in the layout and hashed once; layers keep their bytes (compressed or not) and get the
    /// matching OCI media type. Returns the manifest descriptor.
    @discardableResult
    public static func read(_ path: String, reference: String?, into layout: OCILayout, tag: String) throws
        -> Descriptor
    {
        let selector = try Selector(reference)
        let archive = try Extracted(path, into: layout)
        defer { archive.discard() }
        let md = try archive.importImage(try choose(archive.entries, selector, path: path), into: layout)
        try layout.tag(md, as: tag)
        return md
    }

    /// Imports every image of a docker-archive into `layout`, each tagged with all its RepoTags as the archive
    /// spells them (`docker.io/team/app:1`); images without a name are added to index.json untagged.
    /// Returns each image's manifest descriptor with its names, in manifest.json order.
    @discardableResult
    public static func readAll(_ path: String, into layout: OCILayout) throws -> [(
        descriptor: Descriptor, names: [String]
    )] {
        let archive = try Extracted(path, into: layout)
        defer { archive.discard() }
        guard !archive.entries.isEmpty else {
            throw OCIWriterError(.invalidImage, "manifest.json lists no image", path: path)
        }
        var out: [(descriptor: Descriptor, names: [String])] = []
        for entry in archive.entries {
            let md = try archive.importImage(entry, into: layout)
            let names = entry.RepoTags ?? []
            for n in names { try layout.tag(md, as: n) }
            if names.isEmpty { try layout.addToIndex(md) }
            out.append((md, names))
        }
        return out
    }

    /// Entries an archive may hold (a docker-archive holds a manifest, a config and the layers of each image).
    public static let maxEntries = 100_000

    /// An archive's regular files streamed to temporary files in the layout (hashed once), and its manifest.json.
    struct Extracted {
        let path: String
        var files: [String: ArchiveFile] = [:]
        var entries: [ManifestEntry] = []

        init(_ path: String, into layout: OCILayout) throws {
            self.path = path
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw OCIWriterError.sys("cannot open the archive", path: path) }
            defer { close(fd) }
            do {
                let reader = TarReader(fd: fd, path: path)
                var count = 0
                while let entry = try reader.next() {
                    count += 1
                    if count > DockerArchive.maxEntries {
                        throw OCIWriterError(
                            .limitExceeded,
                            "the archive has more than \(DockerArchive.maxEntries) entries (a docker-archive holds a few per image); refusing it",
                            path: path)
                    }
                    guard entry.isRegular else { continue }
                    if entry.name.utf8.count > 4096 {
                        throw OCIWriterError(
                            .limitExceeded, "an entry name is \(entry.name.utf8.count) bytes, over the limit of 4096",
                            path: path)
                    }
                    let name = DockerArchive.clean(entry.name)
                    let tmp = layout.temporaryBlobPath(label: "archive")
                    let digest: Digest, magic: [UInt8]
                    do { (digest, magic) = try reader.copyBody(to: tmp) } catch {
                        unlink(tmp)  // not yet in `files`: discard() would miss it
                        throw error
                    }
                    if let old = files[name] { unlink(old.tmp) }
                    files[name] = (tmp, digest, entry.size, magic)
                }
                guard let m = files["manifest.json"] else {
                    throw OCIWriterError(.invalidImage, "not a docker-archive: manifest.json is missing", path: path)
                }
                entries = try CanonicalJSON.decode(
                    [ManifestEntry].self, from: try LayoutIO.readFile(m.tmp, limit: 16 << 20),
                    source: path + ":manifest.json")
            } catch {
                discard()
                throw error
            }
        }

        /// Removes what was not moved into the layout.
        func discard() { for f in files.values { unlink(f.tmp) } }

        func file(_ name: String) throws -> ArchiveFile {
            guard let f = files[DockerArchive.clean(name)] else {
                throw OCIWriterError(
                    .invalidImage, "manifest.json names '\(name)', which is not in the archive", path: path)
            }
            return f
        }

        /// Imports one manifest.json entry as an OCI image; returns its manifest descriptor (untagged).
        func importImage(_ chosen: ManifestEntry, into layout: OCILayout) throws -> Descriptor {
            let cfgFile = try file(chosen.Config)
            let cfgBytes = try LayoutIO.readFile(cfgFile.tmp, limit: OCILayout.documentLimit)
            let cfg = try CanonicalJSON.decode(ImageConfig.self, from: cfgBytes, source: path + ":" + chosen.Config)
            let layerFiles = try chosen.Layers.map { (name: DockerArchive.clean($0), file: try file($0)) }

            // Docker 25+ archives (and ours) also carry the OCI manifest: when one that index.json reaches has
            // exactly this config and these layers, its bytes are kept, so the digest survives the round trip.
            if let original = DockerArchive.originalManifest(
                files, config: cfgFile.digest, layers: layerFiles.map(\.file))
            {
                let m = original.manifest
                _ = try layout.writeBlob(bytes: cfgBytes, mediaType: m.config.mediaType)
                var imported = Set<String>()
                for (l, d) in zip(layerFiles, m.layers) where imported.insert(l.name).inserted {
                    try layout.importBlob(file: l.file.tmp, expected: d, mode: .move)
                }
                var md = try layout.writeBlob(bytes: original.bytes, mediaType: original.mediaType)
                md.platform = cfg.platform
                return md
            }

            let config = try layout.writeBlob(bytes: cfgBytes, mediaType: .ociConfig)
            var layers: [Descriptor] = []
            var imported = Set<String>()
            for (name, f) in layerFiles {
                let mt: MediaType
                if f.magic.starts(with: [0x1f, 0x8b]) {
                    mt = .ociLayerGzip
                } else if f.magic.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) {
                    mt = .ociLayerZstd
                } else {
                    mt = .ociLayer
                }
                let d = Descriptor(mediaType: mt, digest: f.digest, size: f.size)
                if imported.insert(name).inserted {
                    try layout.importBlob(file: f.tmp, expected: d, mode: .move)
                }
                layers.append(d)
            }
            let manifest = try EncodedDocument(Manifest(config: config, layers: layers))
            var md = try layout.writeBlob(document: manifest, mediaType: .ociManifest)
            md.platform = cfg.platform
            return md
        }
    }

    typealias ArchiveFile = (tmp: String, digest: Digest, size: Int64, magic: [UInt8])

    /// The manifest reachable from the archive's index.json (directly or through nested indexes) whose config and
    /// layers are exactly `config` and the contents of `layers`; nil when there is none (classic archives).
    static func originalManifest(_ files: [String: ArchiveFile], config: Digest, layers: [ArchiveFile])
        -> (bytes: [UInt8], manifest: Manifest, mediaType: MediaType)?
    {
        guard let idx = files["index.json"],
            let bytes = try? LayoutIO.readFile(idx.tmp, limit: OCILayout.documentLimit),
            let index = try? CanonicalJSON.decode(ImageIndex.self, from: bytes, source: "index.json")
        else { return nil }
        var queue = index.manifests
        var seen = Set<Digest>()
        while !queue.isEmpty, seen.count < 4096 {
            let d = queue.removeFirst()
            guard seen.insert(d.digest).inserted, let f = files["blobs/sha256/" + d.digest.hex], f.digest == d.digest,
                f.size == d.size, let b = try? LayoutIO.readFile(f.tmp, limit: OCILayout.documentLimit)
            else { continue }
            if d.mediaType.isIndex {
                if let sub = try? CanonicalJSON.decode(ImageIndex.self, from: b, source: "") { queue += sub.manifests }
                continue
            }
            guard d.mediaType.isManifest, let m = try? CanonicalJSON.decode(Manifest.self, from: b, source: "") else {
                continue
            }
            if m.config.digest == config, m.layers.count == layers.count,
                zip(m.layers, layers).allSatisfy({ $0.digest == $1.digest && $0.size == $1.size })
            {
                return (b, m, d.mediaType)
            }
        }
        return nil
    }

    static func clean(_ name: String) -> String {
        var n = name
        while n.hasPrefix("./") { n.removeFirst(2) }
        while n.hasPrefix("/") { n.removeFirst() }
        return n
    }
}

/// A minimal streaming ustar writer (regular files and directories, names ≤ 100 bytes, sizes < 8 GiB as octal,
/// larger as base-256), deterministic: mtime 0, uid/gid 0, mode 0644/0755.
final class TarWriter {
    let fd: Int32
    let path: String
    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    private func header(name: String, size: Int64, type: UInt8, mode: Int) throws -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        let nb = Array(name.utf8)
        guard nb.count <= 100 else { throw OCIWriterError(.invalidArgument, "archive entry name too long: \(name)") }
        h.replaceSubrange(0..<nb.count, with: nb)
        func octal(_ v: Int64, _ off: Int, _ len: Int) {
            let s = Array(String(v, radix: 8).utf8)
            let padded = [UInt8](repeating: 0x30, count: len - 1 - s.count) + s
            h.replaceSubrange(off..<(off + len - 1), with: padded)
        }
        octal(Int64(mode), 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        if size < 0o77777777777 {
            octal(size, 124, 12)
        } else {
            h[124] = 0x80
            for i in 0..<8 { h[135 - i] = UInt8(truncatingIfNeeded: size >> (8 * i)) }
        }
        octal(0, 136, 12)
        h[156] = type
        h.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        h[263] = 0x30
        h[264] = 0x30
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int64($1) }
        let s = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: 0x30, count: 6 - s.count) + s + [0, 0x20]
        h.replaceSubrange(148..<156, with: field)
        return h
    }

    private func put(_ b: [UInt8]) throws { try LayoutIO.writeAll(fd, b, path: path) }

    func directory(_ name: String) throws { try put(try header(name: name, size: 0, type: 0x35, mode: 0o755)) }

    func bytes(_ name: String, _ data: [UInt8]) throws {
        try put(try header(name: name, size: Int64(data.count), type: 0x30, mode: 0o644))
        try put(data)
        try pad(Int64(data.count))
    }

    func file(_ name: String, from source: String, size: Int64) throws {
        let src = try LayoutIO.openRegularFile(source)
        defer { close(src) }
        guard try LayoutIO.fileSize(src, path: source) == size else {
            throw OCIWriterError(.sizeMismatch, "blob size differs from its descriptor (\(size) bytes)", path: source)
        }
        try put(try header(name: name, size: size, type: 0x30, mode: 0o644))
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var left = size
        while left > 0 {
            let n = try LayoutIO.read(src, into: buf, path: source)
            guard n > 0 else { throw OCIWriterError(.io, "blob ended early", path: source) }
            try LayoutIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: buf[..<min(n, Int(left))]), path: path)
            left -= Int64(n)
        }
        try pad(size)
    }

    private func pad(_ size: Int64) throws {
        let r = Int(size % 512)
        if r != 0 { try put([UInt8](repeating: 0, count: 512 - r)) }
    }

    func finish() throws { try put([UInt8](repeating: 0, count: 1024)) }
}

/// A minimal streaming tar reader: ustar/GNU/pax headers (long names via pax `path` or GNU `L`, pax `size`).
final class TarReader {
    struct Entry {
        var name: String
        var size: Int64
        var type: UInt8
        var isRegular: Bool { type == 0x30 || type == 0 || type == 0x37 }
    }

    let fd: Int32
    let path: String
    private var pendingBody: Int64 = 0
    private var pendingPad: Int64 = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, n - got) }
            if r < 0 && errno == EINTR { continue }
            guard r >= 0 else { throw OCIWriterError.sys("cannot read the archive", path: path) }
            guard r > 0 else {
                throw OCIWriterError(
                    .invalidImage, "the archive ends in the middle of an entry (truncated file?)", path: path)
            }
            got += r
        }
        return out
    }

    private func skip(_ n: Int64) throws {
        if n == 0 { return }
        if lseek(fd, off_t(n), SEEK_CUR) < 0 { throw OCIWriterError.sys("cannot seek in the archive", path: path) }
    }

    static func parseNumber(_ f: ArraySlice<UInt8>) -> Int64? {
        if let first = f.first, first & 0x80 != 0 {
            var v: Int64 = Int64(first & 0x7f)
            for b in f.dropFirst() { v = (v << 8) | Int64(b) }
            return v
        }
        let s = String(decoding: f.prefix { $0 != 0 && $0 != 0x20 }.drop { $0 == 0x20 }, as: UTF8.self)
        return s.isEmpty ? 0 : Int64(s, radix: 8)
    }

    func next() throws -> Entry? {
        try skip(pendingBody + pendingPad)
        pendingBody = 0
        pendingPad = 0
        var longName: String?
        var paxSize: Int64?
        while true {
            let h = try readExactly(512)
            if h.allSatisfy({ $0 == 0 }) { return nil }
            var sum: Int64 = 0
            for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int64(b) }
            guard let stored = Self.parseNumber(h[148..<156]), stored == sum else {
                throw OCIWriterError(.invalidImage, "not a tar archive (bad header checksum)", path: path)
            }
            guard let size = Self.parseNumber(h[124..<136]), size >= 0 else {
                throw OCIWriterError(.invalidImage, "bad entry size in tar header", path: path)
            }
            let type = h[156]
            let padded = (size + 511) / 512 * 512
            if type == 0x78 || type == 0x4c || type == 0x67 {  // pax 'x', GNU 'L', pax global 'g'
                guard size <= 1 << 20 else {
                    throw OCIWriterError(.invalidImage, "oversized extended header", path: path)
                }
                let body = try readExactly(Int(padded))
                let data = Array(body.prefix(Int(size)))
                if type == 0x4c {
                    longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                } else if type == 0x78 {
                    for rec in Self.paxRecords(data) {
                        if rec.0 == "path" { longName = rec.1 }
                        if rec.0 == "size" {
                            guard let v = Int64(rec.1), v >= 0 else {
                                throw OCIWriterError(
                                    .invalidImage, "bad pax size record '\(rec.1.prefix(40))'", path: path)
                            }
                            paxSize = v
                        }
                    }
                }
                continue
            }
            var name = String(decoding: h[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            if h[257..<262].elementsEqual(Array("ustar".utf8)) {
                let prefix = String(decoding: h[345..<500].prefix { $0 != 0 }, as: UTF8.self)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            let realSize = paxSize ?? size
            let entry = Entry(name: longName ?? name, size: realSize, type: type)
            let hasBody = type == 0x30 || type == 0 || type == 0x37
            pendingBody = hasBody ? realSize : 0
            pendingPad = hasBody ? ((realSize + 511) / 512 * 512 - realSize) : 0
            if !hasBody && size > 0 { try skip(padded) }
            return entry
        }
    }

    static func paxRecords(_ data: [UInt8]) -> [(String, String)] {
        var out: [(String, String)] = []
        var i = 0
        while i < data.count {
            // "<len> <key>=<value>\n", len counting the whole record: it must cover its own digits, the space and
            // the newline, and stay inside the data (no overflow for absurd lengths).
            guard let sp = data[i...].firstIndex(of: 0x20),
                let len = Int(String(decoding: data[i..<sp], as: UTF8.self)),
                len > sp - i + 1, len <= data.count - i
            else { break }
            let rec = data[(sp + 1)..<(i + len - 1)]
            if let eq = rec.firstIndex(of: 0x3d) {
                out.append(
                    (
                        String(decoding: rec[rec.startIndex..<eq], as: UTF8.self),
                        String(decoding: rec[(eq + 1)...], as: UTF8.self)
                    ))
            }
            i += len
        }
        return out
    }

    /// The current entry's body in memory (callers bound the size first).
    func readBody() throws -> [UInt8] {
        let body = try readExactly(Int(pendingBody))
        pendingBody = 0
        return body
    }

    /// Streams the current entry's body to a new file, hashing it; returns its digest and first bytes.
    func copyBody(to file: String) throws -> (Digest, [UInt8]) {
        let out = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw OCIWriterError.sys("cannot create temporary file", path: file) }
        defer { close(out) }
        var hasher = SHA256Hasher()
        var magic: [UInt8] = []
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var left = pendingBody
        while left > 0 {
            let want = Int(min(Int64(buf.count), left))
            let n = Glibc.read(fd, buf.baseAddress!, want)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw OCIWriterError.sys("cannot read the archive", path: path) }
            guard n > 0 else {
                throw OCIWriterError(
                    .invalidImage, "the archive ends in the middle of an entry (truncated file?)", path: path)
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buf[..<n])
            if magic.count < 4 { magic += chunk.prefix(4 - magic.count) }
            hasher.update(chunk)
            try LayoutIO.writeAll(out, chunk, path: file)
            left -= Int64(n)
        }
        pendingBody = 0
        return (hasher.finalize(), magic)
    }
}
