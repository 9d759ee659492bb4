import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

extension StageRunner {
    /// An extra overlay lower for one phase: the directories it needs that `lowers` (topmost first) lack (working
    /// directory, cache and tmpfs mount points; new ones 0755, existing ones keeping their mode and owner, since
    /// overlay copies this lower's metadata up), empty stubs for file mount points, and bind mount sources at their
    /// targets. nil when nothing is needed; the caller removes it after the phase.
    func mountPointLower(
        dirs: [String], binds: [(target: String, source: String)] = [], stubs: [String] = [],
        lowers: [String]
    ) throws -> String? {
        func existing(_ p: String) -> stat? {
            for dir in lowers {
                var st = stat()
                if lstat(dir + p, &st) == 0 { return st }
            }
            return nil
        }
        let missing = dirs.filter { d in d != "/" && (existing(d).map { ($0.st_mode & S_IFMT) != S_IFDIR } ?? true) }
        // File mount points: a missing target gets an empty stub (and its parents); an existing file is covered as is.
        let missingStubs = stubs.filter { existing($0) == nil }
        guard !missing.isEmpty || !binds.isEmpty || !missingStubs.isEmpty else { return nil }
        let tree = cache.scratchPath("mounts")
        if makeDirectory(tree, 0o755) != 0 {
            throw BuildEngineError(.staging, "cannot create \(tree): \(String(cString: strerror(errno)))")
        }
        chmod(tree, 0o755)
        var created: [String] = [tree]
        func mkdirs(_ t: String, leafParent: Bool) throws {
            var path = ""
            let comps = t.split(separator: "/")
            for (i, comp) in comps.enumerated() {
                if leafParent && i == comps.count - 1 { break }
                path += "/" + comp
                if makeDirectory(tree + path, 0o755) == 0 {
                    // An existing directory keeps its mode and owner (overlay copies this lower's metadata up).
                    if let st = existing(path), (st.st_mode & S_IFMT) == S_IFDIR {
                        chmod(tree + path, st.st_mode & 0o7777)
                        lchown(tree + path, st.st_uid, st.st_gid)
                    } else {
                        chmod(tree + path, 0o755)
                        created.append(tree + path)
                    }
                } else if errno != EEXIST {
                    throw BuildEngineError(
                        .staging, "cannot create the mount point \(t): \(String(cString: strerror(errno)))")
                }
            }
        }
        for t in missing { try mkdirs(t, leafParent: false) }
        for t in missingStubs {
            try mkdirs(t, leafParent: true)
            let p = tree + "/" + StagingPath.clean(t)
            let fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else {
                throw BuildEngineError(
                    .staging, "cannot create the mount point \(t): \(String(cString: strerror(errno)))")
            }
            close(fd)
            created.append(p)
        }
        for c in created { try sandbox.identity.giveToNamespaceRoot([c]) }
        for b in binds {
            let t = "/" + StagingPath.clean(b.target)
            try mkdirs(t, leafParent: true)
            for c in created { try sandbox.identity.giveToNamespaceRoot([c]) }
            removeTree(tree + t)
            if rename(b.source, tree + t) != 0 {
                throw BuildEngineError(
                    .staging, "cannot place the bind mount at \(t): \(String(cString: strerror(errno)))")
            }
        }
        return tree
    }
}
