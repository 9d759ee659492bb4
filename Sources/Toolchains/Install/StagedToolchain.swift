/// A toolchain unpacked into a staging directory, ready to become a layer.
///
/// `stagingDirectory` is the layer's root: it holds exactly `opt/ociforge/toolchains/<tool>/<version>/…`
/// (directories 0755, files 0755 or 0644, symlinks relative and inside the prefix). Its content depends only on
/// the archives' bytes; owners and mtimes are left for the layer writer to fix.
public struct StagedToolchain: Hashable, Sendable {
    public var pin: ToolchainPin
    public var stagingDirectory: String
    /// The toolchain's path inside the image (`/opt/ociforge/toolchains/<tool>/<version>`).
    public var prefix: String
    public var environment: ToolchainEnvironment
    /// The verified archives it was unpacked from (`downloaded` false when the cache had them).
    public var archives: [VerifiedArchive]
}
