import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Copy-from-stage: files of an earlier stage (its merged view, computed in-process by `MergedView`) copied into a
/// staging tree that becomes a layer of a later stage. The plan front end's build-stage files for a scratch or
/// Debian runtime base and the runtime user's writable paths use it.
enum StageCopy {
    /// Copies `paths` (files or directories, relative) as the overlay of `trees` (a stage's rootfs, then its steps'
    /// trees, bottom first) has them into `root`: regular files, directories and symlinks with their permission
    /// bits; owners are the caller's (it gives the result to the namespace's root or a user afterwards).
    static func copy(_ paths: [String], from trees: [String], into root: String) throws {
        let fm = FileManager.default
        var merged: [String: String] = [:]
        for rel in paths {
            for tree in trees { try MergedView.overlay(tree: tree, relative: rel, into: &merged) }
        }
        for rel in merged.keys.sorted() {
            let src = merged[rel]!, dst = root + "/" + rel
            var st = stat()
            guard lstat(src, &st) == 0 else {
                throw BuildEngineError(.staging, "cannot read \(src): \(String(cString: strerror(errno)))")
            }
            try makeDirectories((dst as NSString).deletingLastPathComponent)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if makeDirectory(dst, 0o755) != 0 && errno != EEXIST {
                    throw BuildEngineError(.staging, "cannot create \(dst): \(String(cString: strerror(errno)))")
                }
            case S_IFLNK:
                try fm.createSymbolicLink(
                    atPath: dst, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: src))
            case S_IFREG: try fm.copyItem(atPath: src, toPath: dst)
            default: continue
            }
            if (st.st_mode & S_IFMT) != S_IFLNK { chmod(dst, st.st_mode & 0o7777) }
        }
    }
}
