import COCISys
import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The merged view of a stage: its rootfs with the steps' trees (overlay upper directories or staged copies, bottom
/// first) applied, whiteouts removing and opaque directories hiding what lies below. Two ways in: a read-only
/// overlay mount of the whole stage (`StageRunner.withMergedView`, for Dockerfile steps that read the stage), and
/// the same rules applied to chosen paths in-process (`MergedView.overlay`, for plan builds copying files from the
/// build stage into layers: the sources stay in the trees, with their own metadata and xattrs).
extension StageRunner {
    /// Runs `body` with the stage's filesystem (rootfs + step trees) visible at one path: a read-only overlay
    /// mount on the host (the trees are overlay upper directories: whiteouts and opaque directories apply).
    func withMergedView<T>(rootfs: String, trees: [String], _ body: (String) throws -> T) throws -> T {
        if trees.isEmpty { return try body(rootfs) }
        let mnt = cache.scratchPath("view")
        if makeDirectory(mnt, 0o755) != 0 {
            throw BuildEngineError(.staging, "cannot create \(mnt): \(String(cString: strerror(errno)))")
        }
        defer { rmdir(mnt) }
        let lowers = (trees.reversed() + [rootfs]).joined(separator: ":")
        var rc = mount("overlay", mnt, "overlay", UInt(MS_RDONLY), "lowerdir=\(lowers),userxattr")
        if rc != 0 { rc = mount("overlay", mnt, "overlay", UInt(MS_RDONLY), "lowerdir=\(lowers)") }
        guard rc == 0 else {
            throw BuildEngineError(
                .staging,
                "cannot mount a read-only view of the stage (overlayfs, \(trees.count + 1) lowers): \(String(cString: strerror(errno)))"
            )
        }
        defer { umount2(mnt, Int32(MNT_DETACH)) }
        return try body(mnt)
    }
}

enum MergedView {
    /// Applies one overlay layer (`tree`, an upper directory or staged copy) under `relative` to `merged`
    /// (layer path → host path): whiteouts remove, opaque directories hide what lies below.
    static func overlay(tree: String, relative: String, into merged: inout [String: String]) throws {
        func removeBelow(_ p: String) { for k in merged.keys where k.hasPrefix(p + "/") { merged[k] = nil } }
        // A whiteout or a non-directory on the path above `relative` hides it.
        var st = stat()
        var prefix = ""
        for comp in relative.split(separator: "/").dropLast() {
            prefix += (prefix.isEmpty ? "" : "/") + comp
            if lstat(tree + "/" + prefix, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 {
                    merged[prefix] = nil
                    removeBelow(prefix)
                    return
                }
                if (st.st_mode & S_IFMT) != S_IFDIR { return }
            } else {
                return
            }
        }
        func walk(_ rel: String) throws {
            let host = tree + "/" + rel
            var st = stat()
            guard lstat(host, &st) == 0 else { return }
            if (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 {
                merged[rel] = nil
                removeBelow(rel)
                return
            }
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if !isDir || isOpaque(host) { removeBelow(rel) }
            merged[rel] = host
            if isDir {
                for name in try FileManager.default.contentsOfDirectory(atPath: host) { try walk(rel + "/" + name) }
            }
        }
        try walk(relative)
    }

    static func isOpaque(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var v: UInt8 = 0
        for name in ["user.overlay.opaque", "trusted.overlay.opaque"]
        where ocisys_lgetxattr_at(fd, nil, name, &v, 1) == 1 && v == UInt8(ascii: "y") {
            return true
        }
        return false
    }
}

/// Path helpers of staged trees.
enum StagingPath {
    /// `p` made relative and normalised: `.`, empty components and `..` removed (`..` never climbs above the root).
    static func clean(_ p: String) -> String {
        var out: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." || c.isEmpty { continue }
            if c == ".." {
                if !out.isEmpty { out.removeLast() }
                continue
            }
            out.append(c)
        }
        return out.joined(separator: "/")
    }
}
