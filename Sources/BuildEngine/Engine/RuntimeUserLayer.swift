import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

// [non-root] The only engine addition for the runtime user; everything else about it is in the plan
// (`Deploy.runtimeUser`, Sources/Planner/RuntimeUser.swift).
extension ImageBuilder {
    /// The runtime user's writable paths as one layer: the build stage's copies of them (as the end of the build
    /// stage has them) with the runtime stage's own on top (`runtimeTrees`: the app files and step outputs copied
    /// in, so files the app ships inside `tmp/` or `storage/` are covered too; created empty when neither has
    /// them), owned by the user's uid/gid, everything above them owned by root. Written from a staged tree rather
    /// than a `chown` phase because the runtime stage's copy layers are not overlay lowers of later runtime phases.
    func writableItem(
        account: RuntimeUser, workdir: String, parent: Item, buildRootfs: String, buildStack: [Item],
        runtimeTrees: [String] = [], rec: Recorder
    ) throws -> Item? {
        guard !account.writable.isEmpty else { return nil }
        let base = workdir.split(separator: "/").joined(separator: "/")
        let paths = account.writable.map { base.isEmpty ? $0 : base + "/" + $0 }
        let key = CacheKey.of(
            ["writable", parent.key, runner.bases.name(of: buildRootfs), String(account.uid), String(account.gid)]
                + paths + ["--"]
                + buildStack.map(\.key))
        return try cachedOrBuilt(
            key: key, stage: "runtime", phase: "writable",
            createdBy: "ociforge writable for \(account.name) (\(account.uid):\(account.gid)): "
                + paths.map { "/" + $0 }.joined(separator: " "),
            rec: rec, isCommand: false
        ) {
            try runner.stagedLayer("writable", rec: rec) { staging in
                try StageCopy.copy(
                    paths, from: [buildRootfs] + buildStack.compactMap(\.tree) + runtimeTrees, into: staging)
                for p in paths {
                    try makeDirectories(staging + "/" + p)
                }
                try chownToNamespaceRoot(staging)
                // The one id-mapping policy (NamespaceOwnership): an id outside the sandbox's mapping is an error.
                let uid = UInt32(account.uid), gid = UInt32(account.gid)
                for p in paths {
                    let top = staging + "/" + p
                    try sandbox.identity.give(top, uid: uid, gid: gid, recursive: true)
                    var all = [top]
                    if let e = FileManager.default.enumerator(atPath: top) {
                        while let s = e.nextObject() as? String { all.append(top + "/" + s) }
                    }
                    for f in all {
                        var st = stat()
                        if lstat(f, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK {
                            chmod(f, (st.st_mode & 0o7777) | ((st.st_mode & S_IFMT) == S_IFDIR ? 0o700 : 0o600))
                        }
                    }
                }
            }
        }
    }
}
