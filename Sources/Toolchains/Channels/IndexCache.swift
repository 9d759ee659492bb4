import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Optional host cache of index documents (indexes, manifests, checksum files), so repeated planning does not
/// fetch the same index again: `<state>/toolchains/indexes/<sha256 of the URL>`, reused while younger than
/// `maxAge` seconds (by the file's mtime), replaced atomically after a successful fetch. A failed fetch never
/// falls back to an expired copy. Archives are verified against their checksum whatever the index's age.
public struct IndexCachePolicy: Hashable, Sendable {
    public var stateDirectory: String
    public var maxAge: TimeInterval

    public init(stateDirectory: String, maxAge: TimeInterval = 600) {
        self.stateDirectory = stateDirectory
        self.maxAge = maxAge
    }

    var directory: String { ToolchainCache(stateDirectory: stateDirectory).root + "/indexes" }

    func path(_ url: String) -> String { directory + "/" + Digest.of(Array(url.utf8)).hex }

    /// The cached body of `url` when fresh enough.
    func fresh(_ url: String) -> [UInt8]? {
        var st = stat()
        let p = path(url)
        guard stat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
            Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) < maxAge,
            let d = FileManager.default.contents(atPath: p)
        else { return nil }
        return [UInt8](d)
    }

    /// Stores a fetched body (best effort: a cache that cannot be written only costs a later fetch).
    func store(_ url: String, _ body: [UInt8]) {
        let root = ToolchainCache(stateDirectory: stateDirectory).root
        guard (try? ToolchainCache.makeDirectory(root, parents: true)) != nil,
            (try? ToolchainCache.makeDirectory(directory, parents: false)) != nil
        else { return }
        let tmp = directory + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(body)) else { return }
        chmod(tmp, 0o644)
        if rename(tmp, path(url)) != 0 { unlink(tmp) }
    }
}
