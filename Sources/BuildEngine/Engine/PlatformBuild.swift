import OCIWriter

/// One platform's image of a multi-platform build (the `platforms` of a `BuildReport`).
public struct PlatformBuild: Codable, Sendable, Hashable {
    public var platform: Platform
    /// How its steps ran.
    public var method: BuildMethod
    public var manifestDigest: Digest
    public var configDigest: Digest
    /// Phases that ran / came from the cache for this platform (`stage/phase`).
    public var executed: [String]
    public var cached: [String]
    public var seconds: Double
    public var imageSize: Int64

    init(_ platform: Platform, method: BuildMethod, report b: BuildReport) {
        self.platform = platform
        self.method = method
        manifestDigest = b.manifestDigest
        configDigest = b.configDigest
        executed = b.executed
        cached = b.cached
        seconds = b.totalSeconds
        imageSize = b.imageSize
    }
}
