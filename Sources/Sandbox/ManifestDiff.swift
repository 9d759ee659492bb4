import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// The fallback when overlayfs cannot be mounted: the phase runs on a private copy of its lower layers and
/// the change set comes from comparing `lstat` manifests taken before and after.
///
/// An entry counts as changed when any of (device, inode, ctime, mtime, size, mode, uid, gid, nlink) moved;
/// entries gone afterwards become deletions (only the topmost of a deleted subtree).
public struct TreeSnapshot: Sendable {
    public struct Entry: Sendable, Hashable {
        var dev: UInt, ino: UInt, ctime: Int, ctimeNs: Int, mtime: Int, mtimeNs: Int
        var size: Int, mode: UInt32, uid: UInt32, gid: UInt32, nlink: UInt
    }
    public let root: String
    public private(set) var entries: [String: Entry] = [:]

    /// Walks `root` (not following symlinks, not crossing into other file systems).
    public init(root: String) throws {
        self.root = root
        var rootSt = stat()
        guard lstat(root, &rootSt) == 0 else { throw SandboxError(.diff, "cannot stat", errno: errno, detail: root) }
        try walk(rel: "", dev: rootSt.st_dev)
    }

    private mutating func walk(rel: String, dev: UInt) throws {
        let dir = rel.isEmpty ? root : root + "/" + rel
        let names = try listUTF8Names(dir)
        for name in names {
            let r = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(root + "/" + r, &st) == 0 else { continue }
            entries[r] = Entry(
                dev: st.st_dev, ino: st.st_ino, ctime: st.st_ctim.tv_sec, ctimeNs: st.st_ctim.tv_nsec,
                mtime: st.st_mtim.tv_sec, mtimeNs: st.st_mtim.tv_nsec, size: st.st_size, mode: st.st_mode,
                uid: st.st_uid, gid: st.st_gid, nlink: st.st_nlink)
            if st.st_mode & S_IFMT == S_IFDIR && st.st_dev == dev { try walk(rel: r, dev: dev) }
        }
    }

    /// What changed from `before` to `self`. Sources point into `root`.
    public func changes(since before: TreeSnapshot, ignoring mountPoints: Set<String> = []) -> ChangeSet {
        var out: [ChangeSet.Change] = []
        for (p, e) in entries where before.entries[p] != e {
            if mountPoints.contains(p) && before.entries[p] == nil { continue }
            var st = stat()
            if lstat(root + "/" + p, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK { continue }
            out.append(.add(path: p, source: root + "/" + p))
        }
        for p in before.entries.keys where entries[p] == nil {
            // Only the topmost deleted entry: a deleted parent already hides its children.
            let parent = (p as NSString).deletingLastPathComponent
            if !parent.isEmpty && before.entries[parent] != nil && entries[parent] == nil { continue }
            // A parent replaced by a non-directory hides its old children too.
            if !parent.isEmpty, let pe = entries[parent], pe.mode & S_IFMT != S_IFDIR { continue }
            out.append(.delete(path: p))
        }
        return ChangeSet(out)
    }
}

/// Applies change sets onto a directory the way an OCI layer unpacks (deletions and opaque markers first,
/// then additions, parents before children). Used to materialize lower layers for the fallback.
public enum ChangeSetApplier {
    public static func apply(_ cs: ChangeSet, to root: String) throws {
        let fm = FileManager.default
        for c in cs.changes {
            switch c {
            case .delete(let p):
                if (try? fm.attributesOfItem(atPath: root + "/" + p)) != nil {
                    try fm.removeItem(atPath: root + "/" + p)
                }
            case .opaque(let d):
                for n in (try? fm.contentsOfDirectory(atPath: root + "/" + d)) ?? [] {
                    try fm.removeItem(atPath: root + "/" + d + "/" + n)
                }
            case .add: break
            }
        }
        let adds = cs.changes.compactMap { c -> (String, String)? in
            if case .add(let p, let s) = c { return (p, s) }
            return nil
        }
        .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (p, src) in adds {
            let dst = root + "/" + p
            var st = stat(), dt = stat()
            guard lstat(src, &st) == 0 else {
                throw SandboxError(.diff, "a change's source is missing", errno: errno, detail: src)
            }
            let exists = lstat(dst, &dt) == 0
            if st.st_mode & S_IFMT == S_IFDIR {
                if exists && dt.st_mode & S_IFMT != S_IFDIR { try fm.removeItem(atPath: dst) }
                if !exists || dt.st_mode & S_IFMT != S_IFDIR {
                    if mkdir(dst, 0o700) != 0 { throw SandboxError(.diff, "cannot create", errno: errno, detail: dst) }
                }
                lchown(dst, st.st_uid, st.st_gid)
                chmod(dst, st.st_mode & 0o7777)
            } else {
                if exists { try fm.removeItem(atPath: dst) }
                let r = try runHost("/bin/cp", ["-a", "--no-dereference", "--no-target-directory", src, dst])
                if r.status != 0 { throw SandboxError(.diff, "cannot copy \(src)", detail: r.output) }
            }
        }
    }
}
