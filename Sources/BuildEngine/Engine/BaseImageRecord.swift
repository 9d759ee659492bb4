import OCIWriter
import Synchronization

/// A base image a build started from: the stage it is the base of, its name as the plan or FROM line gives it,
/// and its digest (the manifest digest of an image base; the base layer's digest of a plan's assembled base).
/// Images files are copied or mounted from (`COPY --from=<image>`, `RUN --mount=from=<image>`) are recorded too,
/// with `use` saying how and `stage` the Dockerfile line.
public struct BaseImageRecord: Codable, Sendable, Hashable {
    /// How an image that is not a stage's base was used.
    public enum Use: String, Codable, Sendable {
        case copyFrom = "copy-from"
        case mountFrom = "mount-from"
    }

    public var stage: String
    public var name: String
    public var digest: Digest
    /// nil: the stage's base (FROM).
    public var use: Use?

    public init(stage: String, name: String, digest: Digest, use: Use? = nil) {
        self.stage = stage
        self.name = name
        self.digest = digest
        self.use = use
    }

    /// The provenance dependency name: `base:<stage>`, `copy-from:line <n>`, `mount-from:line <n>`.
    var dependencyName: String { (use?.rawValue ?? "base") + ":" + stage }

    /// The base item of a plan stage (nil when it has no layer).
    init?(stage: String, name: String, base: StageLayer) {
        guard let layer = base.layer else { return nil }
        self.init(stage: stage, name: name, digest: layer.digest)
    }
}

/// The images a Dockerfile build copied or mounted files from, as they were resolved (in first-use order, once per
/// line and reference): what the build consumed, whatever the cache did.
final class ImageSourceLog: Sendable {
    private let records = Mutex<[BaseImageRecord]>([])

    func record(_ r: BaseImageRecord) {
        records.withLock { if !$0.contains(r) { $0.append(r) } }
    }

    var all: [BaseImageRecord] { records.withLock { $0 } }
}
