import ArgumentParser
import Foundation
import OCIWriter
import SupplyChain

/// A location's referrer store and the subject it names.
struct ReferrerEndpoint {
    var store: ReferrerStore
    var subject: Descriptor

    /// `docker://…` (the default transport) or `oci-layout:<dir>[:tag]`; `defaultTag` is used for a layout without
    /// a tag when given.
    static func open(
        _ location: ImageLocation, flags: RegistryFlags, defaultTag: String? = nil,
        stdin: inout String?
    ) throws -> ReferrerEndpoint {
        let store = try Self.store(location, flags: flags, stdin: &stdin)
        switch (location, store) {
        case (.registry(let ref), let s as RegistryReferrerStore):
            return ReferrerEndpoint(store: s, subject: try runBlocking { try await s.subject(ref) })
        case (.ociLayout(_, let tag), let s as LayoutReferrerStore):
            return ReferrerEndpoint(store: s, subject: try s.subject(tag: tag ?? defaultTag))
        default:
            throw ValidationError("cannot resolve \(location) to an image")
        }
    }

    /// The referrer store of a location (a registry repository or a layout).
    static func store(_ location: ImageLocation, flags: RegistryFlags, stdin: inout String?) throws -> ReferrerStore {
        switch location {
        case .registry(let ref):
            let client = try RegistryClient(
                registry: ref.registry, credential: try flags.credential(for: ref.registry, stdinPassword: &stdin),
                options: flags.options)
            return RegistryReferrerStore(client: client, repository: ref.repository)
        case .ociLayout(let path, _):
            return LayoutReferrerStore(layout: try OCILayout.open(at: path))
        case .dockerArchive:
            throw ValidationError(
                "referrers live in registries and OCI layouts, not in a docker-archive: use docker://… or oci-layout:<dir>[:tag]"
            )
        }
    }

    static func location(_ s: String) throws -> ImageLocation {
        let transports = ["docker://", "oci-layout:", "oci:", "docker-archive:"]
        return try ImageLocation(parsing: transports.contains(where: { s.hasPrefix($0) }) ? s : "docker://" + s)
    }
}

extension ImageCommand {
    struct Referrers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "referrers",
            abstract: "List the artifacts (SBOMs, provenance, signatures…) attached to an image as OCI referrers.",
            discussion: """
                Registries: the referrers API (distribution-spec 1.1) when the registry has it, else the referrers tag
                schema (an index at tag sha256-<hex>). OCI layouts: index.json entries with an artifactType whose
                manifest's subject is the image. For an index, the referrers of each platform manifest follow (JSON:
                "platforms").
                """)

        @Argument(help: "[docker://]host[:port]/repository[:tag][@digest] or oci-layout:<dir>[:tag].")
        var image: String

        @Option(name: .customLong("artifact-type"), help: "Only artifacts of this type.")
        var artifactType: String?

        @Flag(help: "Print JSON: subject, source and the referrer descriptors.")
        var json = false

        @OptionGroup var flags: RegistryFlags

        func run() throws {
            try reportingErrors {
                var stdin: String?
                let ep = try ReferrerEndpoint.open(try ReferrerEndpoint.location(image), flags: flags, stdin: &stdin)
                let type = artifactType.map { MediaType($0) }
                let listing = try runBlocking {
                    try await ep.store.listReferrers(of: ep.subject.digest, artifactType: type)
                }
                // An index: each platform manifest's referrers too (a multi-platform build attaches per platform).
                var platforms: [PlatformReferrers] = []
                for m in try indexInstances(ep) {
                    let l = try runBlocking { try await ep.store.listReferrers(of: m.digest, artifactType: type) }
                    platforms.append(PlatformReferrers(manifest: m, referrers: l.referrers))
                }
                if json {
                    struct Output: Encodable {
                        var subject: Descriptor
                        var source: ReferrersSource
                        var referrers: [Descriptor]
                        var platforms: [PlatformReferrers]?
                    }
                    let bytes = try CanonicalJSON.encode(
                        Output(
                            subject: ep.subject, source: listing.source, referrers: listing.referrers,
                            platforms: platforms.isEmpty ? nil : platforms))
                    print(String(decoding: bytes, as: UTF8.self))
                    return
                }
                printError(
                    "subject \(ep.subject.digest) (\(listing.source.rawValue)): \(listing.referrers.count) referrer(s)")
                print(Self.table(listing.referrers))
                for p in platforms {
                    let name = p.manifest.platform.map { "\($0.os)/\($0.architecture)" } ?? "?"
                    print("\nplatform \(name) \(p.manifest.digest): \(p.referrers.count) referrer(s)")
                    print(Self.table(p.referrers))
                }
            }
        }

        /// One platform manifest of an index and its referrers.
        struct PlatformReferrers: Encodable {
            var manifest: Descriptor
            var referrers: [Descriptor]
        }

        static func table(_ list: [Descriptor]) -> String {
            var rows = [["DIGEST", "ARTIFACT TYPE", "SIZE", "CREATED"]]
            for d in list {
                rows.append([
                    d.digest.string, d.artifactType?.rawValue ?? "-", String(d.size),
                    d.annotations?["org.opencontainers.image.created"] ?? "-"
                ])
            }
            let widths = (0..<4).map { c in rows.map { $0[c].count }.max() ?? 0 }
            return rows.map { r in
                (0..<4).map { c in c == 3 ? r[c] : r[c].padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ")
            }.joined(separator: "\n")
        }
    }

    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach",
            abstract: "Attach a file to an image as an OCI 1.1 artifact (subject = the image's manifest).",
            discussion:
                "Prints the artifact manifest's digest. Example: ociforge image attach docker://reg/app:1 --artifact-type application/spdx+json --file sbom.json"
        )

        @Argument(help: "[docker://]host[:port]/repository[:tag][@digest] or oci-layout:<dir>[:tag].")
        var image: String

        @Option(name: .customLong("artifact-type"), help: "The artifact's type (a media type).")
        var artifactType: String

        @Option(help: "File stored as the artifact's layer.")
        var file: String

        @Option(name: .customLong("media-type"), help: "Media type of the layer (default: the artifact type).")
        var mediaType: String?

        @Option(help: ArgumentHelp("Manifest annotation (repeatable).", valueName: "KEY=VALUE"))
        var annotation: [String] = []

        @OptionGroup var flags: RegistryFlags

        func run() throws {
            try reportingErrors {
                var stdin: String?
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("--file \(file): cannot read the file")
                }
                var annotations: [String: String] = [:]
                for a in annotation {
                    let (k, v) = try parseKeyValue(a, flag: "--annotation")
                    annotations[k] = v
                }
                let ep = try ReferrerEndpoint.open(try ReferrerEndpoint.location(image), flags: flags, stdin: &stdin)
                let layer = ArtifactLayer(
                    mediaType: MediaType(mediaType ?? artifactType), bytes: Array(data),
                    annotations: ["org.opencontainers.image.title": (file as NSString).lastPathComponent])
                let artifact = try Artifact(
                    artifactType: MediaType(artifactType), subject: ep.subject, layers: [layer],
                    annotations: annotations)
                let d = try runBlocking { try await ep.store.attachArtifact(artifact) }
                print(d.digest)
            }
        }
    }
}

/// `image copy` with `--with-referrers`: the copy itself is `ImageCopy`'s; the referrers follow afterwards.
struct ImageCopyWithReferrers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy", abstract: ImageCopy.configuration.abstract,
        discussion: ImageCopy.configuration.discussion
            + " With --with-referrers (registries and OCI layouts), the artifacts attached to the copied manifest (and their own referrers) are copied too, and its sigstore signatures (tag sha256-<hex>.sig) between registries and OCI layouts."
    )

    @OptionGroup var copy: ImageCopy

    @Flag(help: "Also copy the image's referrers (SBOMs, provenance, signatures attached as OCI artifacts).")
    var withReferrers = false

    func validate() throws {
        guard withReferrers else { return }
        if copy.allTags {
            throw ValidationError(
                "--with-referrers copies one image's referrers; it cannot be combined with --all-tags")
        }
        for s in [copy.source, copy.destination] where s.hasPrefix("docker-archive:") {
            throw ValidationError(
                "--with-referrers needs registries or OCI layouts on both sides: a docker-archive holds no referrers")
        }
    }

    func run() throws {
        try copy.run()
        guard withReferrers else { return }
        try reportingErrors {
            let src = try ImageLocation(parsing: copy.source), dst = try ImageLocation(parsing: copy.destination)
            try carryReferrers(from: src, to: dst, flags: copy.flags)
        }
    }
}

/// `image pull` with `--with-referrers`.
struct ImagePullWithReferrers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: ImagePull.configuration.abstract,
        discussion: ImagePull.configuration.discussion
            + " With --with-referrers, the artifacts attached to the pulled manifest are stored beside it in the layout."
    )

    @OptionGroup var pull: ImagePull

    @Flag(help: "Also pull the image's referrers (SBOMs, provenance, signatures attached as OCI artifacts).")
    var withReferrers = false

    func run() throws {
        try pull.run()
        guard withReferrers else { return }
        try reportingErrors {
            let src = try ReferrerEndpoint.location(pull.reference)
            let lref = try parseLayoutReference(pull.layout, flag: "layout")
            try carryReferrers(from: src, to: .ociLayout(path: lref.path, tag: lref.tag), flags: pull.flags)
        }
    }
}

/// Copies the referrers of what was just written to `dst` from `src` (same manifest digest on both sides).
func carryReferrers(from src: ImageLocation, to dst: ImageLocation, flags: RegistryFlags) throws {
    var stdin: String?
    var defaultTag: String?
    switch (src, dst) {
    case (.registry(let r), .ociLayout(_, nil)): defaultTag = r.tag ?? "latest"
    case (.ociLayout(_, let t), .ociLayout(_, nil)): defaultTag = t
    default: break
    }
    let target = try ReferrerEndpoint.open(dst, flags: flags, defaultTag: defaultTag, stdin: &stdin)
    let source = try ReferrerEndpoint.store(src, flags: flags, stdin: &stdin)
    let copied = try runBlocking {
        try await ReferrerTransfer.copy(subject: target.subject.digest, from: source, to: target.store)
    }
    printError("referrers: copied \(copied.count) artifact(s) of \(target.subject.digest) to \(target.store.name)")
    // An index: each platform manifest's own referrers (a multi-platform build's SBOM and provenance per platform).
    let instances = try indexInstances(target).map(\.digest)
    for digest in instances {
        let n = try runBlocking { try await ReferrerTransfer.copy(subject: digest, from: source, to: target.store) }
        printError("referrers: copied \(n.count) artifact(s) of \(digest) to \(target.store.name)")
    }
    // Sigstore signatures live at a tag (`sha256-<hex>.sig`), not as referrers: carried as skopeo does between
    // registries, and to and from the same tag in a layout (docs/supply-chain.md).
    // An index's platform manifests carry their own signatures (containers/image checks the pulled instance's).
    var counts: [Int] = []
    for digest in [target.subject.digest] + instances {
        counts.append(try carrySignatures(of: digest, from: source, to: target.store))
    }
    if counts.contains(where: { $0 > 0 }) {
        printError(
            "signatures: \(counts[0]) at \(target.store.name):\(SigstoreSignatures.tag(for: target.subject.digest))"
                + (counts.count > 1
                    ? ", and for \(counts.dropFirst().filter { $0 > 0 }.count) platform manifest(s)" : ""))
    }
}

/// The sigstore signatures of `digest` copied between registries and layouts (0: none, or layout → layout).
func carrySignatures(of digest: Digest, from source: any ReferrerStore, to target: any ReferrerStore) throws -> Int {
    switch (source, target) {
    case (let from as RegistryReferrerStore, let to as RegistryReferrerStore):
        return try runBlocking {
            try await SigstoreSignatures.copy(
                digest, from: from.client, repository: from.repository, to: to.client, repository: to.repository)
        }
    case (let from as LayoutReferrerStore, let to as RegistryReferrerStore):
        return try runBlocking {
            try await LayoutSignatures.copy(digest, from: from.layout, to: to.client, repository: to.repository)
        }
    case (let from as RegistryReferrerStore, let to as LayoutReferrerStore):
        return try runBlocking {
            try await LayoutSignatures.copy(digest, from: from.client, repository: from.repository, to: to.layout)
        }
    default: return 0
    }
}

/// The manifests of the endpoint's image when it is an index (read from its store), else none.
func indexInstances(_ target: ReferrerEndpoint) throws -> [Descriptor] {
    guard target.subject.mediaType.isIndex else { return [] }
    let bytes: [UInt8]
    switch target.store {
    case let s as LayoutReferrerStore: bytes = try s.layout.readBlob(target.subject)
    case let s as RegistryReferrerStore:
        bytes = try runBlocking {
            try await s.client.fetchManifest(repository: s.repository, reference: target.subject.digest.string).bytes
        }
    default: return []
    }
    return try EncodedDocument<ImageIndex>(bytes: bytes, source: "\(target.store.name)@\(target.subject.digest)").value
        .manifests
}
