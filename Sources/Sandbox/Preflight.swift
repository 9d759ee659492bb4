import CSandbox
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Checks, before any build work, that this process can create what a phase needs (user, mount, pid and uts
/// namespaces, a proc mount, the id mapping, overlayfs) and names each missing piece with the container setting
/// that provides it: inside `podman run` or a Kubernetes pod without `--privileged` some are refused by default
/// (docs/unprivileged-containers.md).
public enum SandboxPreflight {
    /// Something a phase needs.
    public enum Requirement: String, Sendable, CaseIterable {
        case userNamespace, idMapping, mountNamespace, procMount, hostname, overlay

        /// What fails without it.
        public var what: String {
            switch self {
            case .userNamespace: "cannot create a user namespace"
            case .idMapping: "cannot map the build's uid/gid range into the user namespace"
            case .mountNamespace: "cannot mount in a new mount namespace"
            case .procMount: "cannot mount /proc in a new pid namespace (the container's /proc has masked paths)"
            case .hostname: "cannot set the hostname of a new uts namespace (sethostname is refused)"
            case .overlay: "cannot mount overlayfs in a user namespace under the state directory"
            }
        }

        /// The podman and Kubernetes settings that provide it.
        public var fix: String {
            switch self {
            case .userNamespace:
                "podman: a seccomp profile allowing unshare/clone with CLONE_NEWUSER (podman's default does; "
                    + "Docker's needs --security-opt seccomp=…) and no AppArmor profile denying it; host sysctl "
                    + "user.max_user_namespaces > 0. Kubernetes: securityContext.seccompProfile Localhost (or "
                    + "Unconfined) and appArmorProfile Unconfined"
            case .idMapping:
                "keep CAP_SETUID and CAP_SETGID (do not --cap-drop them; Kubernetes: do not drop them in "
                    + "securityContext.capabilities), or as a non-root user install newuidmap/newgidmap (Debian "
                    + "uidmap) and give the user an /etc/subuid and /etc/subgid range in the image"
            case .mountNamespace:
                "podman: --security-opt apparmor=unconfined when an AppArmor profile denies mount. Kubernetes: "
                    + "appArmorProfile Unconfined and a seccomp profile allowing mount/umount2/pivot_root"
            case .procMount:
                "podman: --security-opt unmask=/proc/* (Docker: --security-opt systempaths=unconfined). "
                    + "Kubernetes: securityContext.procMount: Unmasked (with hostUsers: false)"
            case .hostname:
                "podman: --security-opt seccomp=<profile> allowing sethostname without CAP_SYS_ADMIN "
                    + "(scripts/seccomp-unprivileged writes one from podman's default). Kubernetes: "
                    + "seccompProfile Localhost with that profile"
            case .overlay:
                "put the state directory (OCIFORGE_STATE_DIR) on a volume (podman -v, Kubernetes emptyDir), "
                    + "not on the container's own overlay root; Linux 5.11 or later"
            }
        }

        /// Whether a build can go on without it (overlay: phases then run on a copied tree, slower).
        public var degradesOnly: Bool { self == .overlay }
    }

    /// One refused requirement and the errno that refused it.
    public struct Missing: Error, Sendable, Equatable {
        public var requirement: Requirement
        public var errno: Int32
        public init(requirement: Requirement, errno: Int32) {
            self.requirement = requirement
            self.errno = errno
        }
    }

    /// The probe results: every requirement refused here.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var missing: [Missing]
        public init(missing: [Missing]) { self.missing = missing }
        public var description: String { "missing: " + missing.map(\.requirement.rawValue).joined(separator: ", ") }
    }

    /// Every requirement refused for `identity`, probed in scratch directories under `state`.
    public static func missing(identity: SandboxIdentity, state: StateDirectory) throws -> [Missing] {
        let run = try state.newRun()
        defer { run.remove() }
        for d in ["mnt", "proc", "lower", "upper", "work"] where makeDirectory(run.path + "/" + d, 0o755) != 0 {
            throw SandboxError(.state, "cannot create", errno: errno, detail: run.path + "/" + d)
        }
        let probes: [(Requirement, Int32)] = [
            (.userNamespace, CSANDBOX_PROBE_USERNS), (.mountNamespace, CSANDBOX_PROBE_MOUNT),
            (.procMount, CSANDBOX_PROBE_PROC), (.hostname, CSANDBOX_PROBE_HOSTNAME),
            (.overlay, CSANDBOX_PROBE_OVERLAY)
        ]
        var missing: [Missing] = []
        for (requirement, probe) in probes {
            let e = csandbox_probe(probe, run.path)
            if e != 0 { missing.append(Missing(requirement: requirement, errno: e)) }
            // Without a user namespace the other probes cannot say anything of their own.
            if e != 0 && requirement == .userNamespace { return missing }
        }
        if let e = idMappingRefusal(identity) { missing.append(Missing(requirement: .idMapping, errno: e)) }
        return missing
    }

    /// Throws one `.preflight` error listing every required piece that is missing (its cause: `Failure`);
    /// returns the degraded ones (overlay) as warnings.
    public static func require(identity: SandboxIdentity, state: StateDirectory) throws -> [String] {
        let all = try missing(identity: identity, state: state)
        if all.contains(where: { !$0.requirement.degradesOnly }) { throw error(all) }
        return lines(all).map { "phases will run on copied trees (slower): " + $0.dropFirst(2) }
    }

    /// Before the rootless re-execution: throws the `.preflight` error when no user namespace can be created.
    public static func requireUserNamespace() throws {
        let e = csandbox_probe(CSANDBOX_PROBE_USERNS, "/")
        if e != 0 { throw error([Missing(requirement: .userNamespace, errno: e)]) }
    }

    /// The `.preflight` error naming each of `missing` with its fix.
    static func error(_ missing: [Missing]) -> SandboxError {
        SandboxError(
            .preflight,
            "the sandbox cannot run build phases here (inside a container started without --privileged?); "
                + "missing:\n" + lines(missing).joined(separator: "\n") + "\nSee docs/unprivileged-containers.md.",
            cause: Failure(missing: missing))
    }

    static func lines(_ missing: [Missing]) -> [String] {
        missing.map {
            "- \($0.requirement.what): \(String(cString: strerror($0.errno))) (errno \($0.errno)).\n"
                + "  Fix: \($0.requirement.fix)."
        }
    }

    /// The errno refusing `identity`'s id maps: a range written directly needs CAP_SETUID/CAP_SETGID, one
    /// written by newuidmap/newgidmap needs those setuid helpers.
    static func idMappingRefusal(_ identity: SandboxIdentity) -> Int32? {
        switch identity.mapMode {
        case .direct:
            guard identity.kind == .rootRange else { return nil }
            let caps = effectiveCapabilities()
            let setgid: UInt64 = 1 << 6, setuid: UInt64 = 1 << 7
            return caps & (setuid | setgid) == (setuid | setgid) ? nil : EPERM
        case .newuidmap:
            let tools = ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]
            return tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } ? nil : ENOENT
        case .single:
            return nil
        }
    }

    /// CapEff of this process (/proc/self/status), 0 when unreadable.
    static func effectiveCapabilities() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
        }
        return 0
    }
}
