import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Fetches (verified, cached) and stages toolchains. Given a `ChannelRelease` it takes the expected checksums
/// from the channel; given a `ToolchainPin` it never reads an index: only the pinned URLs are downloaded (when
/// not cached) and only the pinned digests accepted.
public struct ToolchainInstaller: Sendable {
    public let channels: ToolchainChannels
    public let cache: ToolchainCache
    /// Bound on an archive whose size the channel does not publish (4 GiB by default).
    public let maxDownloadBytes: Int64
    /// OpenPGP keyring files per tool, for channels that publish only a detached signature (swift).
    public var keyrings: [ToolKind: String] = [:]

    public init(
        channels: ToolchainChannels, stateDirectory: String, maxDownloadBytes: Int64 = 4 << 30,
        keyrings: [ToolKind: String] = [:]
    ) {
        self.channels = channels
        self.cache = ToolchainCache(stateDirectory: stateDirectory)
        self.maxDownloadBytes = maxDownloadBytes
        self.keyrings = keyrings
    }

    /// How a user sets the keyring of `tool`, for error messages.
    public static func keyringSetting(_ tool: ToolKind) -> String {
        "[toolchains.\(tool.rawValue)] keyring in ociforge.toml, --toolchain-keyring \(tool.rawValue)=<file> or "
            + "$OCIFORGE_TOOLCHAINS_\(tool.rawValue.uppercased())_KEYRING"
    }

    /// The verifier for a signed-only release, checked before any download: no keyring → a refusal naming the
    /// setting and where swift.org publishes its keys.
    func verifier(_ release: ChannelRelease) throws(ToolchainError) -> OpenPGPVerifier? {
        guard release.artifacts.contains(where: { if case .openPGPSignature = $0.checksum { true } else { false } })
        else { return nil }
        guard let keyring = keyrings[release.tool] else {
            throw ToolchainError(
                .keyringMissing,
                "\(release.tool.rawValue) \(release.versionNumber): the channel publishes no checksum for its archives, "
                    + "only a detached OpenPGP signature (.sig), and no keyring is configured to verify it; set "
                    + Self.keyringSetting(release.tool) + " to a keyring with the signing keys (swift.org publishes "
                    + "them at \(OpenPGPVerifier.swiftKeysURL); gpg --dearmor turns that file into a keyring)",
                endpoint: release.tool.downloadEndpoint)
        }
        let v = OpenPGPVerifier(keyring: keyring)
        try v.requireKeyring(setting: Self.keyringSetting(release.tool))
        return v
    }

    private var fetcher: ArtifactFetcher {
        ArtifactFetcher(
            transport: channels.fetcher.transport, fetcher: channels.fetcher, cache: cache,
            maxDownloadBytes: maxDownloadBytes)
    }

    /// Downloads (or finds in the cache) and verifies every archive of `release`.
    public func fetch(_ release: ChannelRelease) async throws(ToolchainError) -> [VerifiedArchive] {
        let endpoint = release.tool.downloadEndpoint
        guard !release.artifacts.isEmpty else {
            throw ToolchainError(
                .unsupportedPlatform,
                "\(release.tool.rawValue) \(release.version) has no archive for \(release.platform.rawValue)",
                endpoint: endpoint)
        }
        let verifier = try verifier(release)
        var out: [VerifiedArchive] = []
        for a in release.artifacts {
            if case .openPGPSignature(let sig) = a.checksum, let verifier {
                out.append(
                    try await fetcher.fetchSigned(
                        url: a.url, component: a.component, format: a.format, signatureURL: sig, verifier: verifier,
                        endpoint: endpoint))
                continue
            }
            let sum = try await fetcher.expectedChecksum(a, endpoint: endpoint)
            out.append(
                try await fetcher.fetch(
                    url: a.url, component: a.component, format: a.format, size: a.size,
                    expect: .published(sum), endpoint: endpoint))
        }
        return out
    }

    /// Downloads (or finds in the cache) the pinned archives, accepting only the pinned digests. Pinned URLs under
    /// an upstream default base are rebased onto a configured mirror (the digest still decides).
    public func fetch(_ pin: ToolchainPin) async throws(ToolchainError) -> [VerifiedArchive] {
        try Self.validate(pin)
        let endpoint = pin.tool.downloadEndpoint
        var out: [VerifiedArchive] = []
        for a in pin.artifacts {
            out.append(
                try await fetcher.fetch(
                    url: channels.settings.rebase(a.url, endpoint), component: a.component,
                    format: a.format, size: a.size, expect: .pinned(a.digest), endpoint: endpoint))
        }
        return out
    }

    /// The pin of `release` (fetches and verifies its archives to learn their sha256).
    public func pin(_ release: ChannelRelease) async throws(ToolchainError) -> ToolchainPin {
        Self.pin(release, try await fetch(release))
    }

    /// Fetches `release` and stages it into `staging` (absent or an empty directory).
    public func install(_ release: ChannelRelease, into staging: String) async throws(ToolchainError) -> StagedToolchain
    {
        let archives = try await fetch(release)
        return try await stage(Self.pin(release, archives), archives, into: staging)
    }

    /// Fetches the pinned archives (digests only, no index) and stages them into `staging`.
    public func install(_ pin: ToolchainPin, into staging: String) async throws(ToolchainError) -> StagedToolchain {
        let archives = try await fetch(pin)
        return try await stage(pin, archives, into: staging)
    }

    /// Unpacks into `staging`. An archive that turns out hostile or unreadable is removed from the cache again
    /// when this call downloaded it, so a refused toolchain leaves nothing cached.
    private func stage(
        _ pin: ToolchainPin, _ archives: [VerifiedArchive],
        into staging: String
    ) async throws(ToolchainError) -> StagedToolchain {
        try Self.validate(pin)
        let tree = StagingTree(tool: pin.tool, flavor: pin.flavor, version: pin.version, staging: staging)
        do {
            try await Blocking.run { () throws(ToolchainError) in try tree.build(archives) }
        } catch {
            if error.code == .hostileArchive || error.code == .archive || error.code == .tooLarge {
                for a in archives where a.downloaded { unlink(a.path) }
            }
            throw error
        }
        let prefix = ToolchainPrefix.path(pin.tool, flavor: pin.flavor, version: pin.version)
        return StagedToolchain(
            pin: pin, stagingDirectory: staging, prefix: prefix,
            environment: .forTool(pin.tool, prefix: prefix), archives: archives)
    }

    static func pin(_ release: ChannelRelease, _ archives: [VerifiedArchive]) -> ToolchainPin {
        ToolchainPin(
            tool: release.tool, version: release.versionNumber, platform: release.platform,
            artifacts: archives.map {
                PinnedArtifact(
                    component: $0.component, url: $0.url, format: $0.format, digest: $0.digest, size: $0.size)
            }, flavor: release.flavor)
    }

    /// A pin's version becomes a directory name: one plain path component.
    static func validate(_ pin: ToolchainPin) throws(ToolchainError) {
        guard let parts = ArchivePath.components(pin.version), parts == [pin.version] else {
            throw ToolchainError(.invalidPin, "version '\(pin.version)' is not a plain directory name")
        }
        guard !pin.artifacts.isEmpty else { throw ToolchainError(.invalidPin, "the pin lists no archive") }
    }
}
