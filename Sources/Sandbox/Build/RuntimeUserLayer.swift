import Foundation
import OCIWriter
import Planner
#if canImport(Glibc)
import Glibc
#endif

// [non-root] The only engine addition for the runtime user; everything else about it is in the plan
// (`Deploy.runtimeUser`, Sources/Planner/RuntimeUser.swift).
extension ImageBuilder {
    /// The runtime user's writable paths as one layer: the build stage's copies of them (as the end of the build
    /// stage has them; created empty when the build has none) owned by the user's uid/gid, everything above them
    /// owned by root. Written from a staged tree rather than a `chown` phase because the runtime stage's copy
    /// layers are not overlay lowers of later runtime phases.
    func writableItem(account: RuntimeUser, workdir: String, parent: Item, buildRootfs: String, buildStack: [Item],
                      rec: Recorder) throws -> Item? {
        guard !account.writable.isEmpty else { return nil }
        let base = workdir.split(separator: "/").joined(separator: "/")
        let paths = account.writable.map { base.isEmpty ? $0 : base + "/" + $0 }
        let key = Self.key(["writable", parent.key, buildRootfs, String(account.uid), String(account.gid)] + paths + ["--"]
                           + buildStack.map(\.key))
        return try cachedOrBuilt(key: key, stage: "runtime", phase: "writable",
                                 createdBy: "ociforge writable for \(account.name) (\(account.uid):\(account.gid)): "
                                    + paths.map { "/" + $0 }.joined(separator: " "),
                                 rec: rec, isCommand: false) {
            try runner.stagedLayer("writable", rec: rec) { staging in
                try Self.copyFromBuildStage(paths, trees: [buildRootfs] + buildStack.compactMap(\.tree), into: staging)
                for p in paths {
                    try FileManager.default.createDirectory(atPath: staging + "/" + p, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o755])
                }
                try chownToNamespaceRoot(staging)
                let ids = sandbox.identity
                func host(_ id: Int, _ map: [IDMapping.Range]) throws -> UInt32 {
                    let id = UInt32(id)
                    guard let r = map.first(where: { id >= $0.containerID && id - $0.containerID < $0.count }) else {
                        throw BuildError("uid/gid \(id) of the runtime user \(account.name) is outside the sandbox's id mapping; run as root or configure /etc/subuid (or build with --user root)")
                    }
                    return r.hostID + (id - r.containerID)
                }
                let u = try host(account.uid, ids.uidMap), g = try host(account.gid, ids.gidMap)
                for p in paths {
                    let top = staging + "/" + p
                    var all = [top]
                    if let e = FileManager.default.enumerator(atPath: top) { while let s = e.nextObject() as? String { all.append(top + "/" + s) } }
                    for f in all {
                        if lchown(f, u, g) != 0 { throw BuildError("cannot give \(f) to uid \(account.uid): \(String(cString: strerror(errno)))") }
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
