import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// A cached build layer: the layer blob (in the cache's blob store) and the directory tree later steps use as an
/// overlay lower (a phase's upper directory, or a staged copy of app files).
public struct BuildCacheEntry: Codable, Sendable, Hashable {
    public var key: String
    /// What produced it, e.g. `phase build: go build -o out .`.
    public var createdBy: String
    /// nil when the step changed nothing (no layer, no tree).
    public var layer: CachedLayer?
    /// The step's filesystem changes, relative to the root: needed to assemble the runtime stage.
    public var hasTree: Bool
    public var created: String
    /// The sandbox identity (`SandboxIdentity.cacheKey`) owning the tree's files: keys are the same on every
    /// machine and user, trees are not. nil: written before owners were recorded.
    public var owner: String?
}

public struct CachedLayer: Codable, Sendable, Hashable {
    public var digest: Digest
    public var diffID: Digest
    public var size: Int64
    public var uncompressedSize: Int64
    public var mediaType: MediaType

    public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: size) }
}

/// The layer cache under `<dir>`: `blobs/` (an OCI layout holding layer blobs: digest-verified on every use),
/// `entries/<key>.json` (written last, atomically: an entry exists only when everything it names is in place),
/// `trees/<key>/` (directories renamed into place). An entry whose blob is missing or does not hash to its
/// digest, or whose tree is missing, is removed and rebuilt: never used.
public struct BuildCache: Sendable {
    public let directory: String
    public let blobs: OCILayout
    /// The sandbox identity whose trees this build uses (`BuildCacheEntry.owner`); nil: any.
    public var owner: String?

    public init(directory: String, owner: String? = nil) throws(BuildEngineError) {
        self.directory = directory
        self.owner = owner
        // 0711 whatever the umask (the sandbox's root reads trees as overlay lowers); new parents of a
        // --cache-dir are 0755. A cache directory of ours left with fewer bits is repaired.
        let what = "cannot create the build cache directory"
        do {
            try makeDirectories((directory as NSString).deletingLastPathComponent)
            for d in [directory, directory + "/entries", directory + "/trees", directory + "/tmp"] {
                if makeDirectory(d, 0o711) != 0 && errno != EEXIST {
                    throw BuildEngineError(.cache, "\(what) \(d)", cause: Self.systemError())
                }
                try requireDirectoryMode(d, 0o711)
            }
        } catch {
            throw BuildEngineError.wrapping(error, "\(what) \(directory)")
        }
        let layoutPath = directory + "/blobs"
        do {
            blobs =
                OCILayout.isLayout(layoutPath)
                ? try OCILayout.open(at: layoutPath) : try OCILayout.create(at: layoutPath)
        } catch {
            throw BuildEngineError(.cache, "cannot open the build cache's blob store \(layoutPath)", cause: error)
        }
        blobs.removeStaleTemporaryFiles(olderThan: 3600)
        removeStaleTemporaryDirectories()
    }

    public func entryPath(_ key: String) -> String { directory + "/entries/" + key + ".json" }
    public func treePath(_ key: String) -> String { directory + "/trees/" + key }

    /// A fresh scratch directory path under the cache (same filesystem as `trees/`).
    public func scratchPath(_ label: String) -> String {
        directory + "/tmp/\(label)-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    }

    /// The entry for `key` when it is complete and its blob verifies; a broken entry is removed (with the reason
    /// passed to `log`) and nil returned.
    public func lookup(_ key: String, verify: Bool = true, log: (String) -> Void = { _ in }) -> BuildCacheEntry? {
        let path = entryPath(key)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        func reject(_ why: String) -> BuildCacheEntry? {
            log("cache entry \(key.prefix(16)) is unusable (\(why)): rebuilding it")
            // Under the key's lock, and only if the entry is still the broken one (a concurrent store may have
            // replaced it meanwhile).
            _ = try? FileLock.withExclusive(lockPath(key)) {
                if FileManager.default.contents(atPath: path) == data { remove(key) }
            }
            return nil
        }
        guard let entry = try? JSONDecoder().decode(BuildCacheEntry.self, from: data), entry.key == key else {
            return reject("its metadata does not decode")
        }
        if entry.hasTree {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: treePath(key), isDirectory: &isDir), isDir.boolValue else {
                return reject("its directory tree is missing")
            }
        }
        if let layer = entry.layer {
            let desc = layer.descriptor
            if verify {
                do { try blobs.verifyBlob(desc) } catch { return reject(Self.blobProblem(error)) }
            } else if !blobs.hasBlob(desc.digest) {
                return reject("its layer blob is missing")
            }
        }
        if entry.hasTree, let owner, entry.owner != owner {
            return reject("its directory tree belongs to another sandbox identity")
        }
        utimensat(AT_FDCWD, path, nil, 0)  // last use, for `ociforge cache prune`
        return entry
    }

    /// Why a blob did not verify, in words (the cause's code decides, never its text).
    static func blobProblem(_ error: any Error) -> String {
        switch (error as? OCIWriterError)?.code {
        case .digestMismatch?: return "its layer blob does not hash to its digest"
        case .sizeMismatch?: return "its layer blob has the wrong size"
        case .notFound?: return "its layer blob is missing"
        default: return "its layer blob cannot be read"
        }
    }

    /// The current `errno` as an error value (the `cause` of a failed system call).
    static func systemError() -> POSIXError { POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }

    /// Stores an entry: the layer file is imported (digest checked), the tree renamed into place, then the metadata
    /// written to a temp file and renamed (the commit point).
    /// Concurrent stores of one key are serialised by `lockPath(key)`; the second finds the first's complete
    /// entry, discards its own files and returns that entry (see docs/concurrency.md).
    public func store(key: String, createdBy: String, layer: LayerWriteResult?, layerFile: String?, tree: String?)
        throws -> BuildCacheEntry
    {
        let cached = layer.map {
            CachedLayer(
                digest: $0.digest, diffID: $0.diffID, size: $0.size, uncompressedSize: $0.uncompressedSize,
                mediaType: $0.mediaType)
        }
        return try store(key: key, createdBy: createdBy, cached: cached, layerFile: layerFile, tree: tree)
    }

    /// `store` for a layer known by its descriptor and diffID (e.g. pulled from a registry cache).
    public func store(key: String, createdBy: String, cached: CachedLayer?, layerFile: String?, tree: String?)
        throws -> BuildCacheEntry
    {
        try FileLock.withExclusive(lockPath(key)) {
            if let done = completeEntry(key) {
                if let layerFile { unlink(layerFile) }
                if let tree { removeTree(tree) }
                return done
            }
            return try storeLocked(key: key, createdBy: createdBy, cached: cached, layerFile: layerFile, tree: tree)
        }
    }

    /// The entry when its metadata decodes and its tree and blob are present (no rehash, no removal: lock held).
    private func completeEntry(_ key: String) -> BuildCacheEntry? {
        guard let data = FileManager.default.contents(atPath: entryPath(key)),
            let entry = try? JSONDecoder().decode(BuildCacheEntry.self, from: data), entry.key == key
        else { return nil }
        if entry.hasTree && !FileManager.default.fileExists(atPath: treePath(key)) { return nil }
        if entry.hasTree, let owner, entry.owner != owner { return nil }
        if let layer = entry.layer { guard let d = try? layer.descriptor, blobs.hasBlob(d.digest) else { return nil } }
        return entry
    }

    /// The lock file serialising stores and removals of `key`.
    public func lockPath(_ key: String) -> String { directory + "/entries/" + key + ".lock" }

    private func storeLocked(
        key: String, createdBy: String, cached: CachedLayer?, layerFile: String?, tree: String?
    ) throws -> BuildCacheEntry {
        if let cached, let layerFile {
            try blobs.importBlob(file: layerFile, expected: cached.descriptor, mode: .move)
        }
        let treeTarget = treePath(key)
        if let tree {
            if FileManager.default.fileExists(atPath: treeTarget) {
                try? FileManager.default.removeItem(atPath: treeTarget)
            }
            if rename(tree, treeTarget) != 0 {
                throw BuildEngineError(
                    .cache, "cannot move a step's tree into the build cache at \(treeTarget)", cause: Self.systemError()
                )
            }
        }
        let entry = BuildCacheEntry(
            key: key, createdBy: createdBy, layer: cached, hasTree: tree != nil,
            created: ISO8601DateFormatter().string(from: Date()), owner: tree != nil ? owner : nil)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data = try enc.encode(entry)
        let tmp = directory + "/entries/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BuildEngineError(.cache, "cannot write a cache entry in \(tmp)", cause: Self.systemError())
        }
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        let synced = fsync(fd) == 0
        close(fd)
        guard ok, synced, rename(tmp, entryPath(key)) == 0 else {
            let cause = Self.systemError()
            unlink(tmp)
            throw BuildEngineError(.cache, "cannot write the cache entry \(entryPath(key))", cause: cause)
        }
        return entry
    }

    /// Removes an entry (metadata first, so a concurrent reader never sees a half-removed entry as valid).
    public func remove(_ key: String) {
        unlink(entryPath(key))
        let tree = treePath(key)
        if FileManager.default.fileExists(atPath: tree) {
            let doomed = scratchPath("doomed")
            if rename(tree, doomed) == 0 { removeTree(doomed) } else { removeTree(tree) }
        }
    }

    /// Removes scratch directories left by builds that were killed (older than an hour).
    func removeStaleTemporaryDirectories() {
        let tmp = directory + "/tmp"
        let now = time(nil)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
            var st = stat()
            let p = tmp + "/" + name
            if lstat(p, &st) == 0, now - st.st_mtim.tv_sec > 3600 { removeTree(p) }
        }
    }

    /// Cached trees become overlay lowers of phases whose root is the sandbox's mapped root, not the host's: in
    /// root-range mode every directory above the cache must be searchable by others, or overlayfs cannot use the
    /// trees (a private ancestor such as a 0700 home makes the image's directories appear owned by nobody).
    func requireReachable(by identity: SandboxIdentity) throws {
        guard identity.kind == .rootRange else { return }
        var path = URL(fileURLWithPath: directory).standardizedFileURL.path
        while path != "/" && !path.isEmpty {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o001 == 0 {
                throw BuildEngineError(
                    .cache,
                    "the build cache \(directory) is inside \(path), which others cannot search (mode \(String(st.st_mode & 0o7777, radix: 8))): the sandbox's root could not use cached layers. Run `chmod o+x \(path)` or choose another --cache-dir"
                )
            }
            path = (path as NSString).deletingLastPathComponent
        }
    }
}
