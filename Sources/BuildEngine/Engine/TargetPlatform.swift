import OCIWriter
import Sandbox

/// The platform a build's steps run for, and the check that its executables can run in the sandbox.
enum TargetPlatform {
    /// `options.platform`, or the host's.
    static func of(_ options: BuildOptions) -> Platform { options.platform ?? Platform.host }

    /// Refuses, before any work, a platform whose executables the host cannot run in the sandbox (no usable
    /// binfmt_misc handler); the error's cause says how to enable emulation.
    static func requireRunnable(_ platform: Platform?) throws(BuildEngineError) {
        guard let platform, !ELFMachine.sameExecutables(platform, Platform.host) else { return }
        do { try Emulation().require(platform) } catch {
            throw BuildEngineError(
                .unsupported, "cannot build for \(platform): its programs cannot run on this \(Platform.host) host",
                cause: error)
        }
    }

    /// `requireRunnable` for a request's platform, unless no foreign program runs at all (a plan cross-compiled
    /// onto the scratch base).
    static func requireRunnable(_ request: BuildRequest) throws(BuildEngineError) {
        if case .app(_, let result, _) = request.source, result.plan.strategy == .plan,
            !CrossCompilation.needsEmulation(result.plan, request.options)
        {
            return
        }
        try requireRunnable(request.options.platform)
    }

    /// How `request` (for one platform) is built: natively, cross-compiled or emulated.
    static func method(_ request: BuildRequest) -> BuildMethod {
        if case .app(_, let result, _) = request.source, result.plan.strategy == .plan {
            return CrossCompilation.method(result.plan, request.options)
        }
        return method(of(request.options))
    }

    /// The platform part of every cache key: a step for arm64 never reuses an amd64 layer.
    static func keyPart(_ options: BuildOptions) -> String {
        let p = of(options)
        return "platform \(p.os)/\(p.architecture)"
    }

    /// How a platform's steps ran: natively, or through the host's binfmt_misc handler.
    static func method(_ platform: Platform) -> BuildMethod {
        ELFMachine.sameExecutables(platform, Platform.host) ? .native : .emulated
    }
}

/// How one platform of a build was made.
public enum BuildMethod: String, Codable, Sendable {
    /// The host's own platform.
    case native
    /// Every step ran under user-mode emulation (qemu through binfmt_misc).
    case emulated
    /// The build stage ran natively for the host, its compiler targeting the platform (`CrossCompilation`); only
    /// runtime steps (none on a scratch base) ran emulated.
    case crossCompiled = "cross-compiled"
}
