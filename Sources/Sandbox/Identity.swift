import CSandbox
import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Which ids the sandbox's user namespace maps, and how the maps get written.
public struct SandboxIdentity: Sendable, Hashable {
    public enum Kind: String, Sendable {
        /// Host root: a dedicated range (root's /etc/subuid entry, else 1,000,000,000 + 65,536), so uid 0 in
        /// the build is not host root.
        case rootRange
        /// Already root inside a user namespace (the rootless re-execution): the same ids, mapped 1:1.
        case nested
        /// Unprivileged with an /etc/subuid range: newuidmap/newgidmap.
        case subordinateRange
        /// Unprivileged without a range: only the caller's uid is mapped (degraded, see `warning`).
        case singleID
    }

    public var kind: Kind
    public var mapMode: LaunchSpec.MapMode
    public var uidMap: [IDMapping.Range]
    public var gidMap: [IDMapping.Range]
    /// Set for degraded modes: what will not work.
    public var warning: String?

    public init(
        kind: Kind, mapMode: LaunchSpec.MapMode, uidMap: [IDMapping.Range], gidMap: [IDMapping.Range],
        warning: String? = nil
    ) {
        self.kind = kind
        self.mapMode = mapMode
        self.uidMap = uidMap
        self.gidMap = gidMap
        self.warning = warning
    }

    /// Namespace id → host id (as the layer writer needs it: files in upper dirs carry host ids).
    public var idMapping: IDMapping { IDMapping(uids: uidMap, gids: gidMap) }

    /// A short key for caches whose contents depend on the mapping (unpacked base rootfs ownership).
    public var cacheKey: String {
        let s = (uidMap + gidMap).map { "\($0.containerID)-\($0.hostID)-\($0.count)" }.joined(separator: "_")
        return "\(kind.rawValue)-\(Digest.of(Array(s.utf8)).hex.prefix(12))"
    }

    public static let fallbackRootRangeStart: UInt32 = 1_000_000_000
    public static let rangeSize: UInt32 = 65_536

    /// The identity for this process.
    public static func detect() throws -> SandboxIdentity {
        let euid = geteuid()
        if euid == 0 && csandbox_in_initial_userns() != 0 {
            let u = subordinateRange(user: "root", uid: 0, file: "/etc/subuid")
            let g = subordinateRange(user: "root", uid: 0, file: "/etc/subgid")
            let us = u?.start ?? fallbackRootRangeStart, uc = min(u?.count ?? rangeSize, rangeSize)
            let gs = g?.start ?? fallbackRootRangeStart, gc = min(g?.count ?? rangeSize, rangeSize)
            return SandboxIdentity(
                kind: .rootRange, mapMode: .direct,
                uidMap: [.init(containerID: 0, hostID: us, count: uc)],
                gidMap: [.init(containerID: 0, hostID: gs, count: gc)], warning: nil)
        }
        if euid == 0 {
            let u = try mappedRanges("/proc/self/uid_map"), g = try mappedRanges("/proc/self/gid_map")
            let single = u.count == 1 && u[0].count == 1
            return SandboxIdentity(
                kind: .nested, mapMode: .direct,
                uidMap: u.map { .init(containerID: $0.containerID, hostID: $0.containerID, count: $0.count) },
                gidMap: g.map { .init(containerID: $0.containerID, hostID: $0.containerID, count: $0.count) },
                warning: single ? singleWarning : nil)
        }
        let uid = getuid(), gid = getgid()
        let name = userName(uid) ?? String(uid)
        if let u = subordinateRange(user: name, uid: uid, file: "/etc/subuid"),
            let g = subordinateRange(user: name, uid: uid, file: "/etc/subgid")
        {
            let uc = min(u.count, rangeSize), gc = min(g.count, rangeSize)
            return SandboxIdentity(
                kind: .subordinateRange, mapMode: .newuidmap,
                uidMap: [
                    .init(containerID: 0, hostID: uid, count: 1), .init(containerID: 1, hostID: u.start, count: uc)
                ],
                gidMap: [
                    .init(containerID: 0, hostID: gid, count: 1), .init(containerID: 1, hostID: g.start, count: gc)
                ],
                warning: nil)
        }
        return SandboxIdentity(
            kind: .singleID, mapMode: .single,
            uidMap: [.init(containerID: 0, hostID: uid, count: 1)],
            gidMap: [.init(containerID: 0, hostID: gid, count: 1)], warning: singleWarning)
    }

    static let singleWarning = """
        no /etc/subuid and /etc/subgid range for this user: running in degraded single-uid mode. Only uid/gid 0 \
        exists in the sandbox: files of other owners in the base are shown as nobody, chown to other ids fails \
        (packages whose maintainer scripts chown, e.g. cron, fail) and apt needs -o APT::Sandbox::User=root. \
        Fix: add a range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`.
        """

    static func subordinateRange(user: String, uid: uid_t, file: String) -> (start: UInt32, count: UInt32)? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":")
            guard f.count == 3, f[0] == user || f[0] == String(uid),
                let s = UInt32(f[1]), let c = UInt32(f[2]), c > 0
            else { continue }
            return (s, c)
        }
        return nil
    }

    static func mappedRanges(_ file: String) throws -> [IDMapping.Range] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SandboxError(.idMapping, "cannot read \(file)")
        }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count == 3, let a = UInt32(f[0]), let b = UInt32(f[1]), let c = UInt32(f[2]) else { return nil }
            return IDMapping.Range(containerID: a, hostID: b, count: c)
        }
    }

    static func userName(_ uid: uid_t) -> String? {
        guard let pw = getpwuid(uid), let n = pw.pointee.pw_name else { return nil }
        return String(cString: n)
    }
}
