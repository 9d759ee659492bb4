/// An explicit set of filesystem changes to write as one layer (what a sandbox phase produced).
///
/// Paths are layer paths: relative to the image root, `/`-separated, without a leading `/` or `./`,
/// no `.`/`..` components. The layer writer sorts, adds missing parent directories and emits whiteouts
/// before their siblings; the order of `changes` does not matter.
public struct ChangeSet: Sendable, Hashable {
    public enum Change: Sendable, Hashable {
        /// Add or replace `path` with the filesystem object at `source` (an absolute host path, read with
        /// lstat: regular file, directory, symlink, hard link, FIFO, device; sockets are skipped with a warning).
        /// A directory added this way does not add its children: list them as their own changes.
        case add(path: String, source: String)
        /// Delete `path` from the layers below: written as `.wh.<name>`.
        case delete(path: String)
        /// Hide every lower child of directory `path` (the directory itself comes from an `.add`):
        /// written as `<path>/.wh..wh..opq`.
        case opaque(directory: String)
    }

    public var changes: [Change]

    public init(_ changes: [Change] = []) { self.changes = changes }
}

/// A uid/gid mapping from ids inside a user namespace to ids on the host, as in `/proc/<pid>/uid_map`.
/// The layer writer uses it to record owners as seen inside the namespace.
public struct IDMapping: Sendable, Hashable {
    public struct Range: Sendable, Hashable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var count: UInt32
        public init(containerID: UInt32, hostID: UInt32, count: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.count = count
        }
    }

    public var uids: [Range]
    public var gids: [Range]

    public init(uids: [Range], gids: [Range]) {
        self.uids = uids
        self.gids = gids
    }

    /// The container uid of a host uid, or nil when the host id is not mapped (the writer reports it).
    public func containerUID(forHost id: UInt32) -> UInt32? { Self.map(id, uids) }
    public func containerGID(forHost id: UInt32) -> UInt32? { Self.map(id, gids) }

    private static func map(_ id: UInt32, _ ranges: [Range]) -> UInt32? {
        for r in ranges where id >= r.hostID && UInt64(id) < UInt64(r.hostID) + UInt64(r.count) {
            return r.containerID + (id - r.hostID)
        }
        return nil
    }
}
