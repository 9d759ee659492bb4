import Foundation
import OCIWriter
import Planner
import Toolchains

/// Resolves a plan's unpinned upstream toolchains against their release channels: the newest release the plan's
/// constraint matches (the Planner's `VersionConstraint`), fetched and verified into the host cache to learn its
/// archives' sha256, recorded as the toolchain's pin (and, for java/dotnet runtime stages, the runtime build's).
/// Toolchains already pinned for the platform (a frozen plan, its `platformPins` included) are left alone: no index
/// is read for them. Pins are per platform: a pin recorded only for another platform (a plan frozen on amd64, built
/// for arm64) is resolved again for `platform` at its exact version — the same release, that platform's archives
/// and digests.
public enum ToolchainResolution {
    /// `plan` with every upstream toolchain pinned for `platform` (`ResolvedPlan.pinning`). Fails before anything
    /// is built when a channel cannot be reached or has no matching release for that platform, naming the URL, the
    /// setting and the Debian choice.
    public static func pin(
        _ plan: ResolvedPlan, options: ToolchainOptions, stateDirectory: String,
        platform: Toolchains.Platform = .host
    ) async throws(BuildEngineError) -> ResolvedPlan {
        let plan = plan.selectingPins(for: platform.rawValue)
        let unpinned = toResolve(plan, platform: platform)
        guard !unpinned.isEmpty else { return plan }
        let settings = try options.channelSettings(for: plan)
        let installer = ToolchainInstaller(
            channels: ToolchainChannels(settings: settings), stateDirectory: options.stateDirectory ?? stateDirectory,
            keyrings: try options.keyrings(for: plan))
        var out = plan
        for t in unpinned {
            let (pin, runtimePin) = try await resolve(
                t, installer: installer, suite: plan.suite, platform: platform)
            guard let i = out.toolchains.firstIndex(where: { $0.name == t.name }) else { continue }
            out.toolchains[i].upstream?.runtimePin = runtimePin
            do { out = try out.pinning([t.name: pin]) } catch {
                throw BuildEngineError(.planner, "the pin resolved for \(t.name) does not fit the plan", cause: error)
            }
        }
        return out
    }

    /// `plan` pinned for every platform of `platforms` (`freeze --platform a,b`): the main pins for the first, the
    /// same releases' pins for the others in `platformPins`, so a multi-platform build of the frozen plan reads no
    /// index. Empty `platforms`: the host's.
    public static func pin(
        _ plan: ResolvedPlan, options: ToolchainOptions, stateDirectory: String, platforms: [Toolchains.Platform]
    ) async throws(BuildEngineError) -> ResolvedPlan {
        let first = platforms.first ?? .host
        var out = try await pin(plan, options: options, stateDirectory: stateDirectory, platform: first)
        for other in platforms.dropFirst() where other != first {
            let pinned = try await pin(out, options: options, stateDirectory: stateDirectory, platform: other)
            out = out.keepingPins(of: pinned)
        }
        return out
    }

    /// The upstream toolchains without a pin for `platform`; a pin for another platform becomes a request for its
    /// exact version.
    static func toResolve(_ plan: ResolvedPlan, platform: Toolchains.Platform) -> [Toolchain] {
        plan.toolchains.compactMap { t in
            guard t.source == .upstream, var up = t.upstream else { return nil }
            guard let pin = up.pin else { return t }
            guard pin.platform != platform.rawValue else { return nil }
            var again = t
            up.constraint = pin.version
            up.pin = nil
            up.runtimePin = nil
            again.upstream = up
            return again
        }
    }

    /// The toolchains' platform for a build for `target` (nil: the host's): the platform its build stage runs as.
    /// Refused for a platform no channel publishes toolchains for, when the plan needs an upstream toolchain.
    static func platform(_ plan: ResolvedPlan, target: OCIWriter.Platform?) throws(BuildEngineError)
        -> Toolchains.Platform
    {
        guard let target else { return .host }
        guard let p = Toolchains.Platform(ociArchitecture: target.architecture), target.os == "linux" else {
            let names = plan.toolchains.filter { $0.source == .upstream }.map(\.name)
            guard names.isEmpty else {
                throw BuildEngineError(
                    .unsupported,
                    "no upstream \(names.joined(separator: ", ")) toolchain for \(target): ociforge installs upstream "
                        + "toolchains for linux/amd64 and linux/arm64; take them from Debian ([toolchains.<tool>] "
                        + "source = \"debian\") or build for one of those platforms")
            }
            return .host
        }
        return p
    }

    /// The toolchain platforms to freeze `plan` for, from the image platforms asked for: the host's first when it
    /// is among them (its pins stay the main ones), the others in platform order; the host's alone for none.
    public static func platforms(_ plan: ResolvedPlan, targets: [OCIWriter.Platform]) throws(BuildEngineError)
        -> [Toolchains.Platform]
    {
        var out: [Toolchains.Platform] = []
        for target in targets {
            let p = try platform(plan, target: target)
            if !out.contains(p) { out.append(p) }
        }
        guard !out.isEmpty else { return [.host] }
        return out.contains(.host) ? [.host] + out.filter { $0 != .host }.sorted() : out.sorted()
    }

    /// `pin` from the engine's blocking build thread.
    static func pinBlocking(
        _ plan: ResolvedPlan, options: ToolchainOptions, stateDirectory: String, platform: Toolchains.Platform
    ) throws(BuildEngineError) -> ResolvedPlan {
        let plan = plan.selectingPins(for: platform.rawValue)
        guard !toResolve(plan, platform: platform).isEmpty else { return plan }
        let result: Result<ResolvedPlan, BuildEngineError> = blockingResult {
            do throws(BuildEngineError) {
                return .success(
                    try await pin(plan, options: options, stateDirectory: stateDirectory, platform: platform))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func resolve(_ t: Toolchain, installer: ToolchainInstaller, suite: String, platform: Toolchains.Platform)
        async throws(BuildEngineError) -> (PlanPin, PlanPin?)
    {
        guard let up = t.upstream, let kind = ToolKind(rawValue: t.name) else {
            throw BuildEngineError(
                .unsupported,
                "\(noChannelReason(t.name)) (docs/toolchains.md lists the channels); "
                    + (DebianChoice.hint(tool: t.name, suite: suite)
                        ?? "Debian \(suite) packages none for ociforge ([toolchains.\(t.name)] source = \"debian\" "
                        + "cannot help): build from a Dockerfile"))
        }
        guard let constraint = VersionConstraint(up.constraint) else {
            throw BuildEngineError(.invalidInput, "\"\(up.constraint)\" is not a version constraint for \(t.name)")
        }
        do {
            let release = try await choose(
                kind, constraint, flavor: .full, channels: installer.channels, platform: platform)
            let pin = try await installer.pin(release).planPin
            guard up.runtime == .runtimeOnly, kind.hasRuntimeFlavor else { return (pin, nil) }
            let runtime = try await choose(
                kind, runtimeConstraint(kind, release), flavor: .runtime, channels: installer.channels,
                platform: platform)
            return (pin, try await installer.pin(runtime).planPin)
        } catch {
            throw channelError(error, t, constraint: up.constraint, suite: suite)
        }
    }

    /// Why no upstream channel installs `tool`.
    static func noChannelReason(_ tool: String) -> String { "ociforge installs no upstream \(tool) toolchain yet" }

    /// The newest release of the channel matching `constraint` for `platform`; Rust channels and versions by name.
    static func choose(
        _ kind: ToolKind, _ constraint: VersionConstraint, flavor: ToolchainFlavor, channels: ToolchainChannels,
        platform: Toolchains.Platform
    ) async throws(ToolchainError) -> ChannelRelease {
        if kind == .rust, flavor == .full {
            if case .channel(let name)? = constraint.alias {
                return try await channels.release(.rust, version: name, platform: platform)
            }
            if let exact = constraint.exactVersion {
                return try await channels.release(.rust, version: exact.description, platform: platform)
            }
        }
        let releases = try await channels.listReleases(kind, platform: platform, flavor: flavor)
        let candidates = releases.map {
            VersionCandidate($0.versionNumber, lts: $0.ltsCodename ?? ($0.isLTS ? "lts" : nil))
        }
        if let best = constraint.newestMatch(in: candidates),
            let release = releases.first(where: { $0.versionNumber == best.version })
        {
            return release
        }
        let newest = releases.prefix(5).map(\.versionNumber).joined(separator: ", ")
        throw ToolchainError(
            .unknownVersion,
            "the \(kind.rawValue) channel lists no release matching \(constraint) for \(platform.rawValue)"
                + (newest.isEmpty ? "" : " (it lists \(newest), …)"),
            url: channels.settings.url(kind.indexEndpoint, ""), endpoint: kind.indexEndpoint)
    }

    /// The runtime build that goes with a full release: same Java feature version, same .NET major.minor.
    static func runtimeConstraint(_ kind: ToolKind, _ release: ChannelRelease) -> VersionConstraint {
        let parts = release.versionNumber.split(whereSeparator: { $0 == "." || $0 == "+" || $0 == "-" })
        let line = kind == .java ? parts.prefix(1) : parts.prefix(2)
        return VersionConstraint(line.joined(separator: ".")) ?? VersionConstraint("latest")!
    }

    static func channelError(_ error: ToolchainError, _ t: Toolchain, constraint: String, suite: String)
        -> BuildEngineError
    {
        var message = "cannot resolve \(t.name) \(constraint)"
        if let request = t.request { message += " (\(request))" }
        message += " from its upstream release channel"
        if let endpoint = error.endpoint {
            message += " (or --toolchain-mirror \(endpoint.rawValue)=URL)"
        }
        if let debian = DebianChoice.hint(tool: t.name, suite: suite) { message += "; \(debian)" }
        return BuildEngineError(.toolchain, message, cause: error)
    }
}

/// What Debian offers instead of an upstream toolchain, for error messages.
enum DebianChoice {
    /// `Debian trixie ships node 20.19.2: to build with it set [toolchains.node] source = "debian" and a version it
    /// satisfies (version = "20")`; nil when the suite packages no such tool.
    static func hint(tool: String, suite: String) -> String? {
        guard let options = Debian.suites[suite]?.toolchains[tool], let first = options.first else { return nil }
        let versions = options.map { $0.suite == suite ? $0.version : "\($0.version) (\($0.suite))" }
        let line = first.version.split(separator: ".").prefix(["node", "java"].contains(tool) ? 1 : 2)
            .joined(separator: ".")
        return "Debian \(suite) ships \(tool) \(versions.joined(separator: ", ")): to build with it instead set "
            + "[toolchains.\(tool)] source = \"debian\" and a version it satisfies (version = \"\(line)\") in "
            + "ociforge.toml, or OCIFORGE_TOOLCHAIN_\(tool.uppercased())_SOURCE=debian"
    }
}
