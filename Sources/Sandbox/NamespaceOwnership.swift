import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// The one mapping from namespace ids to host ids, and the one way files the host side creates for a phase (run
/// directories, cache directories, staged trees, unpacked bases) are given to a namespace owner.
///
/// Policy for an id the namespace does not map: an error (`.idMapping`) naming the id, the path and the fix; never
/// skipped, never passed through as a host id (a host id outside the mapping shows as `nobody` inside the sandbox
/// and would be written into layers as whatever the layer writer makes of it).
extension SandboxIdentity {
    /// The host uid of namespace uid `id`; nil when the namespace does not map it.
    public func hostUID(_ id: UInt32) -> UInt32? { Self.host(id, uidMap) }
    /// The host gid of namespace gid `id`; nil when the namespace does not map it.
    public func hostGID(_ id: UInt32) -> UInt32? { Self.host(id, gidMap) }

    static func host(_ id: UInt32, _ ranges: [IDMapping.Range]) -> UInt32? {
        ranges.first { id >= $0.containerID && UInt64(id) < UInt64($0.containerID) + UInt64($0.count) }
            .map { $0.hostID + (id - $0.containerID) }
    }

    /// The host ids of namespace `uid`:`gid`, or `.idMapping` naming `path` (what was to be given to them).
    public func hostIDs(uid: UInt32, gid: UInt32, for path: String) throws -> (uid: UInt32, gid: UInt32) {
        guard let u = hostUID(uid), let g = hostGID(gid) else {
            throw SandboxError(
                .idMapping,
                "\(uid):\(gid) is outside the sandbox's id mapping (\(kind.rawValue)): cannot give it "
                    + "\(path). Run as root, or give this user a subordinate id range (/etc/subuid, /etc/subgid)",
                detail: path)
        }
        return (u, g)
    }

    /// Gives `path` (never following a final symlink) to namespace `uid`:`gid`; with `recursive`, everything under
    /// it too.
    public func give(_ path: String, uid: UInt32, gid: UInt32, recursive: Bool = false) throws {
        let ids = try hostIDs(uid: uid, gid: gid, for: path)
        var all = [path]
        if recursive, let e = FileManager.default.enumerator(atPath: path) {
            while let p = e.nextObject() as? String { all.append(path + "/" + p) }
        }
        for p in all where lchown(p, ids.uid, ids.gid) != 0 {
            throw SandboxError(
                .state, "cannot give \(p) to \(uid):\(gid) of the sandbox (host \(ids.uid):\(ids.gid))",
                errno: errno, detail: p)
        }
    }

    /// Gives paths the host side created to the namespace's root (with `recursive`, their contents too).
    public func giveToNamespaceRoot(_ paths: [String], recursive: Bool = false) throws {
        for p in paths { try give(p, uid: 0, gid: 0, recursive: recursive) }
    }
}
