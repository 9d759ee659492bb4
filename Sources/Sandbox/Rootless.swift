import CSandbox
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Rootless operation: an unprivileged ociforge re-executes itself as root of a user namespace (its own uid
/// as 0, its /etc/subuid range as 1…65536, via newuidmap/newgidmap), as podman and buildah do. Inside, every
/// file the tool creates belongs to the user on the host, overlay upper dirs can be read and removed, and
/// phases run in nested namespaces that map the same ids 1:1.
public enum Rootless {
    /// Marker set in the re-executed process's environment.
    public static let marker = "OCIFORGE_USERNS"

    /// Whether this process must re-execute itself (unprivileged, in the initial user namespace).
    public static var needsReexec: Bool {
        geteuid() != 0 && csandbox_in_initial_userns() != 0 && ProcessInfo.processInfo.environment[marker] == nil
    }

    /// Runs this command line again inside a user namespace and returns its exit status. SIGINT/SIGTERM are
    /// forwarded; if this process dies, the launcher kills the namespace. Prints the degraded-mode warning.
    public static func reexec(arguments: [String] = CommandLine.arguments) throws -> Int32 {
        try SandboxPreflight.requireUserNamespace()
        let identity = try SandboxIdentity.detect()
        if let w = identity.warning { FileHandle.standardError.write(Data("ociforge: warning: \(w)\n".utf8)) }
        var spec = LaunchSpec(
            mapMode: identity.mapMode, uidMap: identity.uidMap, gidMap: identity.gidMap,
            arguments: ["/proc/self/exe"] + arguments.dropFirst())
        spec.allCapabilities = true
        spec.forwardSignals = true
        spec.maxProcesses = 0
        spec.maxOpenFiles = 0
        var env = ProcessInfo.processInfo.environment
        env[marker] = "1"
        env[CSANDBOX_ENV] = nil
        spec.environment = env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        spec.workingDirectory = FileManager.default.currentDirectoryPath
        SignalGuard.install()
        let r = try Launcher.run(spec, output: .inherit, stdin: 0)
        switch r.termination {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        case .timedOut: return 124
        case .interrupted: return 130
        }
    }
}
