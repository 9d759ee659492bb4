import OCIWriter

/// A base image a build started from: the stage it is the base of, its name as the plan or FROM line gives it,
/// and its digest (the manifest digest of an image base; the base layer's digest of a plan's assembled base).
public struct BaseImageRecord: Codable, Sendable, Hashable {
    public var stage: String
    public var name: String
    public var digest: Digest

    public init(stage: String, name: String, digest: Digest) {
        self.stage = stage
        self.name = name
        self.digest = digest
    }

    /// The base item of a plan stage (nil when it has no layer).
    init?(stage: String, name: String, base: StageLayer) {
        guard let layer = base.layer else { return nil }
        self.init(stage: stage, name: name, digest: layer.digest)
    }
}
