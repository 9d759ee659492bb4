#if canImport(Glibc)
    import Glibc
#endif

/// A finished layer blob to add to an image (as produced by the layer writer).
public struct LayerInput: Sendable, Hashable {
    /// The compressed (or plain tar) blob file.
    public var file: String
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    /// sha256 of the uncompressed tar.
    public var diffID: Digest
    /// History entry for this layer.
    public var createdBy: String?
    public var comment: String?
    public var annotations: [String: String]?
    /// Move the file into the layout (true: it is a temp file the caller no longer needs) or copy it.
    public var consumeFile: Bool

    public init(
        file: String, mediaType: MediaType, digest: Digest, size: Int64, diffID: Digest,
        createdBy: String? = nil, comment: String? = nil, annotations: [String: String]? = nil,
        consumeFile: Bool = false
    ) {
        self.file = file
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.diffID = diffID
        self.createdBy = createdBy
        self.comment = comment
        self.annotations = annotations
        self.consumeFile = consumeFile
    }

    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: size, annotations: annotations)
    }
}

/// Where an assembled image starts from.
public enum AssemblyBase: Sendable, Hashable {
    /// No base: an image made only of the new layers, for `platform`.
    case scratch(platform: Platform)
    /// An image in an OCI layout (`tag` nil: the layout's only image); `platform` chooses from an index
    /// (default: the host's).
    case layout(OCILayout, tag: String?, platform: Platform?)
}

/// Changes to the image configuration. nil / empty means "keep the base's".
///
/// Order of application (`apply(to:)`): the `unset` fields are removed, then entrypoint/cmd, env, workingDir, user,
/// labels, exposedPorts, volumes, stopSignal, healthcheck, onBuild, shell are applied.
public struct ConfigChanges: Sendable, Hashable {
    /// A container-config field `unset` can remove from the base's config.
    public enum Field: String, Sendable, Hashable, CaseIterable {
        case user, workingDir, entrypoint, cmd, stopSignal, healthcheck, onBuild, shell
    }

    /// Setting an entrypoint without a cmd clears the base's Cmd (as Docker does).
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// `NAME=value` entries, applied in order; an existing NAME is replaced in place.
    public var env: [String]
    /// Absolute path.
    public var workingDir: String?
    public var user: String?
    /// Merged into the base's labels.
    public var labels: [String: String]
    /// `port[/tcp|udp|sctp]` (default tcp), added to the base's.
    public var exposedPorts: [String]
    public var stopSignal: String?
    /// Mount points (`VOLUME`), added to the base's.
    public var volumes: [String]
    /// Replaces the base's healthcheck (Docker extension).
    public var healthcheck: Healthcheck?
    /// Replaces the base's ONBUILD triggers (Docker extension).
    public var onBuild: [String]?
    /// Replaces the base's shell for shell-form commands (Docker extension).
    public var shell: [String]?
    /// Fields of the base's config removed before the other changes apply (e.g. `.cmd` to clear an inherited Cmd
    /// while keeping the entrypoint, `.user` to drop an empty `User`).
    public var unset: Set<Field>
    /// Manifest annotations.
    public var annotations: [String: String]
    /// RFC 3339 creation time; nil: from SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z.
    public var created: String?
    public var author: String?
    /// When set and some config field changes, an `empty_layer: true` history entry with this `created_by`.
    public var configHistory: String?

    public init(
        entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String] = [], workingDir: String? = nil,
        user: String? = nil, labels: [String: String] = [:], exposedPorts: [String] = [],
        stopSignal: String? = nil, annotations: [String: String] = [:], created: String? = nil,
        author: String? = nil, configHistory: String? = nil, volumes: [String] = [], healthcheck: Healthcheck? = nil,
        onBuild: [String]? = nil, shell: [String]? = nil, unset: Set<Field> = []
    ) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.labels = labels
        self.exposedPorts = exposedPorts
        self.stopSignal = stopSignal
        self.annotations = annotations
        self.created = created
        self.author = author
        self.configHistory = configHistory
        self.volumes = volumes
        self.healthcheck = healthcheck
        self.onBuild = onBuild
        self.shell = shell
        self.unset = unset
    }

    var changesContainerConfig: Bool {
        entrypoint != nil || cmd != nil || !env.isEmpty || workingDir != nil || user != nil || !labels.isEmpty
            || !exposedPorts.isEmpty || stopSignal != nil || !volumes.isEmpty || healthcheck != nil || onBuild != nil
            || shell != nil || !unset.isEmpty
    }

    /// The container config these changes make of `base` (nil: the base has none): nil when the base has none and
    /// nothing changes. Validates env entries, the working directory and ports.
    public func apply(to base: ContainerConfig?) throws -> ContainerConfig? {
        var cc = base ?? ContainerConfig()
        for field in unset {
            switch field {
            case .user: cc.user = nil
            case .workingDir: cc.workingDir = nil
            case .entrypoint: cc.entrypoint = nil
            case .cmd: cc.cmd = nil
            case .stopSignal: cc.stopSignal = nil
            case .healthcheck: cc.healthcheck = nil
            case .onBuild: cc.onBuild = nil
            case .shell: cc.shell = nil
            }
        }
        if let entrypoint {
            cc.entrypoint = entrypoint
            if cmd == nil { cc.cmd = nil }
        }
        if let cmd { cc.cmd = cmd }
        for entry in env {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw OCIWriterError(.invalidArgument, "invalid environment entry '\(entry)': expected NAME=value")
            }
            cc.setEnv(String(entry[..<eq]), String(entry[entry.index(after: eq)...]))
        }
        if let wd = workingDir {
            guard wd.hasPrefix("/") else {
                throw OCIWriterError(.invalidArgument, "working directory '\(wd)' must be an absolute path")
            }
            cc.workingDir = wd
        }
        if let user { cc.user = user }
        if !labels.isEmpty {
            cc.labels = (cc.labels ?? [:]).merging(labels) { _, new in new }
        }
        if !exposedPorts.isEmpty {
            var ports = cc.exposedPorts ?? [:]
            for p in exposedPorts { ports[try ImageAssembler.normalizePort(p)] = EmptyObject() }
            cc.exposedPorts = ports
        }
        if !volumes.isEmpty {
            var all = cc.volumes ?? [:]
            for v in volumes { all[v] = EmptyObject() }
            cc.volumes = all
        }
        if let s = stopSignal { cc.stopSignal = s }
        if let healthcheck { cc.healthcheck = healthcheck }
        if let onBuild { cc.onBuild = onBuild }
        if let shell { cc.shell = shell }
        return base != nil || changesContainerConfig ? cc : nil
    }
}

/// The result of an assembly.
public struct AssembledImage: Sendable {
    public var layout: OCILayout
    public var tag: String?
    /// The manifest's descriptor as recorded in index.json (with platform; without the ref-name annotation).
    public var manifestDescriptor: Descriptor
    public var manifest: EncodedDocument<Manifest>
    public var configDescriptor: Descriptor
    public var config: EncodedDocument<ImageConfig>

    public var manifestDigest: Digest { manifestDescriptor.digest }
    public var configDigest: Digest { configDescriptor.digest }
}

/// Assembles an image: base (scratch or an image in a layout) + finished layer blobs + config changes → config,
/// manifest and blobs in a destination layout, tagged.
///
/// Base layers keep their digests and media types, except that a Docker schema 2 base is converted to OCI
/// (manifest, config and layer media types mapped; blobs unchanged). The config is always a new canonical JSON
/// document (its rootfs, history and created time change), encoded once; its bytes are what is hashed and stored.
public struct ImageAssembler: Sendable {
    public var base: AssemblyBase
    public var layers: [LayerInput]
    public var changes: ConfigChanges
    public var destination: OCILayout
    public var tag: String?
    /// Environment consulted for SOURCE_DATE_EPOCH when `changes.created` is nil.
    public var environment: [String: String]
    /// Decompress every new layer first and check its digest, size and diffID (for layer files that did not come
    /// straight from ociforge's layer writer). Digest and size are always checked when a layer is imported.
    public var verifyNewLayerDiffIDs = false
    /// The history entries of the new part of the image, bottom first, when the caller interleaves config-only
    /// steps (`empty_layer: true` entries) with its layers: exactly one entry without `empty_layer` per element of
    /// `layers`, in order. nil: one entry per layer (its `createdBy`/`comment`), then `changes.configHistory`.
    public var history: [History]?
    /// Add the `org.opencontainers.image.base.digest` manifest annotation for a layout base (unless
    /// `changes.annotations` has it).
    public var annotateBaseDigest = true

    public init(
        base: AssemblyBase, layers: [LayerInput], changes: ConfigChanges = ConfigChanges(),
        destination: OCILayout, tag: String?, environment: [String: String] = ImageAssembler.processEnvironment()
    ) {
        self.base = base
        self.layers = layers
        self.changes = changes
        self.destination = destination
        self.tag = tag
        self.environment = environment
    }

    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        if let v = getenv("SOURCE_DATE_EPOCH") { env["SOURCE_DATE_EPOCH"] = String(cString: v) }
        return env
    }

    /// RFC 3339 UTC without fractions, from SOURCE_DATE_EPOCH when set, else the Unix epoch.
    public static func createdTimestamp(environment: [String: String]) throws -> String {
        guard let raw = environment["SOURCE_DATE_EPOCH"], !raw.isEmpty else { return rfc3339(epochSeconds: 0) }
        guard let secs = Int64(raw), secs >= 0, secs <= 253_402_300_799 else {
            throw OCIWriterError(
                .invalidArgument,
                "SOURCE_DATE_EPOCH='\(raw)' is not a non-negative integer number of seconds (before year 10000)")
        }
        return rfc3339(epochSeconds: secs)
    }

    public static func rfc3339(epochSeconds: Int64) -> String {
        var t = time_t(epochSeconds)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return
            "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2))Z"
    }

    /// Writes everything and tags the result; blocking I/O.
    public func assemble() throws -> AssembledImage {
        if let tag { try OCILayout.validateTag(tag) }
        let created = try changes.created ?? Self.createdTimestamp(environment: environment)
        for layer in layers {
            guard layer.mediaType.layerCompression != nil else {
                throw OCIWriterError(
                    .unsupportedMediaType, "layer media type \(layer.mediaType) is not a tar layer type",
                    path: layer.file)
            }
        }

        if verifyNewLayerDiffIDs {
            let derived = LayoutVerifier.Run.digestInParallel(
                layers.map { Descriptor(mediaType: $0.mediaType, digest: $0.digest, size: $0.size) },
                layout: destination, files: layers.map(\.file))
            for layer in layers {
                let r = try derived[layer.digest]!.get()
                guard r.size == layer.size, r.digest == layer.digest else {
                    throw OCIWriterError(
                        .digestMismatch,
                        "layer file hashes to \(r.digest) (\(r.size) bytes), not the given \(layer.digest) (\(layer.size) bytes)",
                        path: layer.file)
                }
                guard r.diffID == layer.diffID else {
                    throw OCIWriterError(
                        .digestMismatch,
                        "layer's uncompressed tar hashes to \(r.diffID), not the given diffID \(layer.diffID)",
                        path: layer.file)
                }
            }
        }

        // 1. Base manifest and config.
        var config: ImageConfig
        var baseLayers: [Descriptor] = []
        var baseDigest: Digest?
        var baseLayout: OCILayout?
        switch base {
        case .scratch(let platform):
            config = ImageConfig(platform: platform, config: nil, rootfs: RootFS(diffIDs: []), history: [])
        case .layout(let layout, let baseTag, let platform):
            let resolved = try layout.resolve(tag: baseTag, platform: platform)
            baseLayout = layout
            baseDigest = resolved.manifestDescriptor.digest
            config = resolved.config.value
            let manifest = resolved.manifest.value
            guard config.rootfs.diffIDs.count == manifest.layers.count else {
                throw OCIWriterError(
                    .invalidImage,
                    "base image \(resolved.manifestDescriptor.digest) has \(manifest.layers.count) layers but its config lists \(config.rootfs.diffIDs.count) diff_ids",
                    path: layout.path)
            }
            baseLayers = manifest.layers.map(Self.ociLayerDescriptor)
            if config.history == nil || config.history!.isEmpty, !baseLayers.isEmpty {
                config.history = baseLayers.map { _ in History(comment: "history not recorded in the base image") }
            }
        }

        // 2. Config changes.
        config.config = try changes.apply(to: config.config)

        // 3. New layers: history, rootfs.
        var history = config.history ?? []
        for layer in layers { config.rootfs.diffIDs.append(layer.diffID) }
        if let given = self.history {
            let layerEntries = given.filter { $0.emptyLayer != true }.count
            guard layerEntries == layers.count else {
                throw OCIWriterError(
                    .invalidArgument,
                    "the history given for the new layers has \(layerEntries) entries without empty_layer but there are \(layers.count) new layers: give exactly one per layer, in order"
                )
            }
            history += given
        } else {
            for layer in layers {
                history.append(History(created: created, createdBy: layer.createdBy, comment: layer.comment))
            }
            if let note = changes.configHistory, changes.changesContainerConfig {
                history.append(History(created: created, createdBy: note, emptyLayer: true))
            }
        }
        config.history = history
        config.rootfs.type = "layers"
        config.created = created
        if let author = changes.author { config.author = author }

        // 4. Blobs: base layers (copied across, verified), new layers (imported, verified).
        for d in baseLayers {
            if let baseLayout {
                // foreign layer, not distributed
                if !baseLayout.hasBlob(d.digest), !(d.urls ?? []).isEmpty { continue }
                try destination.copyBlob(d, from: baseLayout)
            }
        }
        for layer in layers {
            try destination.importBlob(
                file: layer.file, expected: layer.descriptor, mode: layer.consumeFile ? .move : .copy)
        }

        // 5. Config, manifest, index.
        let configDoc = try EncodedDocument(config)
        let configDesc = try destination.writeBlob(document: configDoc, mediaType: .ociConfig)
        var annotations = changes.annotations
        if annotateBaseDigest, let baseDigest, annotations["org.opencontainers.image.base.digest"] == nil {
            annotations["org.opencontainers.image.base.digest"] = baseDigest.string
        }
        let manifest = Manifest(
            config: configDesc, layers: baseLayers + layers.map(\.descriptor),
            annotations: annotations.isEmpty ? nil : annotations, mediaType: .ociManifest)
        let manifestDoc = try EncodedDocument(manifest)
        var manifestDesc = try destination.writeBlob(document: manifestDoc, mediaType: .ociManifest)
        manifestDesc.platform = config.platform
        if let tag {
            try destination.tag(manifestDesc, as: tag)
        } else {
            try destination.addToIndex(manifestDesc)
        }
        return AssembledImage(
            layout: destination, tag: tag, manifestDescriptor: manifestDesc, manifest: manifestDoc,
            configDescriptor: configDesc, config: configDoc)
    }

    /// Docker layer media types mapped to their OCI equivalents; everything else kept.
    static func ociLayerDescriptor(_ d: Descriptor) -> Descriptor {
        var d = d
        switch d.mediaType {
        case .dockerLayerGzip: d.mediaType = .ociLayerGzip
        case .dockerForeignLayerGzip: d.mediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        default: break
        }
        return d
    }

    /// `8080` → `8080/tcp`; validates the number and protocol.
    static func normalizePort(_ s: String) throws -> String {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let proto = parts.count == 2 ? parts[1].lowercased() : "tcp"
        guard parts.count <= 2, let n = Int(parts[0]), (1...65535).contains(n), ["tcp", "udp", "sctp"].contains(proto)
        else {
            throw OCIWriterError(
                .invalidArgument, "invalid exposed port '\(s)': expected PORT[/tcp|udp|sctp] with PORT in 1…65535")
        }
        return "\(n)/\(proto)"
    }
}
