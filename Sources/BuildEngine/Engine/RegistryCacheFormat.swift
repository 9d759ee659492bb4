import Foundation
import OCIWriter

/// Which steps `--cache-to` exports (as BuildKit's `mode=min|max`).
public enum RegistryCacheMode: String, Sendable, CaseIterable {
    /// The final image's layers and the base root filesystems: enough to rebuild an unchanged image.
    case min
    /// Every step of every stage (build-stage dependency installs included): what a changed source needs.
    case max
}

/// Registry repositories the layer cache is shared through: steps are looked up in `importFrom` (in order) when
/// the local cache misses, and the build's steps are written to every `exportTo` after the image is built.
/// Only the repository of each reference is used (entries are tagged by their keys).
public struct RegistryCacheOptions: Sendable, Hashable {
    public var exportTo: [ImageReference]
    public var importFrom: [ImageReference]
    public var mode: RegistryCacheMode

    /// Named cache mounts of a plan (`pip`, `apt-cache`, … as in the plan; `all`) shared through the same
    /// repositories (docs/cache.md, "Portable cache mounts"); empty: none (opt-in).
    public var mounts: [String]
    /// A cache mount larger than this (uncompressed) is not exported (a warning says so).
    public var mountLimit: Int64

    public init(
        exportTo: [ImageReference] = [], importFrom: [ImageReference] = [], mode: RegistryCacheMode = .max,
        mounts: [String] = [], mountLimit: Int64 = 1 << 30
    ) {
        self.exportTo = exportTo
        self.importFrom = importFrom
        self.mode = mode
        self.mounts = mounts
        self.mountLimit = mountLimit
    }

    public var isEmpty: Bool { exportTo.isEmpty && importFrom.isEmpty }

    /// Whether the cache mount `name` is shared.
    public func sharesMount(_ name: String) -> Bool { mounts.contains("all") || mounts.contains(name) }
}

/// What a registry cache entry says about its step (the artifact's first layer, canonical JSON): the key it
/// answers, the layer (nil when the step changed nothing) and whether later steps use it as an overlay lower.
/// The image config is not in it: each front end derives it from the plan or Dockerfile, whose every input is
/// part of the key.
public struct CacheRecord: Codable, Sendable, Hashable {
    public var version: Int
    public var key: String
    public var stage: String
    public var phase: String
    public var createdBy: String
    public var layer: CachedLayer?
    public var hasTree: Bool

    public init(
        key: String, stage: String, phase: String, createdBy: String, layer: CachedLayer?, hasTree: Bool
    ) {
        self.version = 1
        self.key = key
        self.stage = stage
        self.phase = phase
        self.createdBy = createdBy
        self.layer = layer
        self.hasTree = hasTree
    }
}

/// The registry format of a cache entry (docs/cache.md): an OCI 1.1 artifact manifest tagged `step-<key>`, with
/// `artifactType` `application/vnd.ociforge.cache.step.v1`, the empty config, and as layers the record
/// (`application/vnd.ociforge.cache.record.v1+json`) then the step's layer blob (if it made one).
enum RegistryCacheFormat {
    static let artifactType: MediaType = "application/vnd.ociforge.cache.step.v1"
    static let recordType: MediaType = "application/vnd.ociforge.cache.record.v1+json"
    /// Largest record accepted from a registry.
    static let recordLimit: Int64 = 1 << 20
    static let keyAnnotation = "dev.ociforge.cache.key"

    /// The tag of `key`'s entry: one manifest request per lookup.
    static func tag(_ key: String) -> String { "step-" + key }

    /// The manifest bytes for `record` whose record blob is `recordDescriptor`.
    static func manifest(_ record: CacheRecord, recordDescriptor: Descriptor) throws -> [UInt8] {
        var m = Manifest(
            config: Descriptor.emptyJSON, layers: [recordDescriptor] + (record.layer.map { [$0.descriptor] } ?? []),
            annotations: [keyAnnotation: record.key])
        m.artifactType = artifactType
        return try CanonicalJSON.encode(m)
    }

    /// The record's descriptor and the layer's, checked against what an entry must be; throws naming what is wrong.
    static func parse(manifestBytes: [UInt8], key: String, source: String) throws -> Descriptor {
        let m = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, source: source)
        guard m.artifactType == artifactType, let record = m.layers.first, record.mediaType == recordType,
            record.size <= recordLimit, m.layers.count <= 2
        else {
            throw BuildEngineError(
                .cache, "\(source) is not an ociforge cache entry (artifactType \(m.artifactType?.rawValue ?? "none"))")
        }
        return record
    }

    /// The record decoded from `bytes`, which must answer `key` and name the manifest's layer.
    static func record(_ bytes: [UInt8], key: String, layer: Descriptor?, source: String) throws -> CacheRecord {
        let r = try CanonicalJSON.decode(CacheRecord.self, from: bytes, source: source)
        guard r.version == 1, r.key == key, r.layer?.digest == layer?.digest, r.layer?.size == layer?.size else {
            throw BuildEngineError(.cache, "\(source): its record does not match the key or the layer it names")
        }
        return r
    }
}
