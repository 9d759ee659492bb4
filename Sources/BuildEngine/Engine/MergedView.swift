import COCISys
import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The merged view of a stage computed in-process for chosen paths: the overlay rules (whiteouts remove, opaque
/// directories hide what lies below) applied to the stage's trees (its rootfs, then overlay upper directories or
/// staged copies, bottom first) without mounting anything. The sources stay in the trees, with their own metadata
/// and xattrs. Used where a build copies some files of a stage (`StageFiles.copy`, the plan's outputs layer); the
/// whole stage mounted read-only at one path is the other way in, `StageRunner.withMergedView`
/// (MergedViewMount.swift), for Dockerfile steps that read the stage through its own paths (globs, symlinks, users).
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
