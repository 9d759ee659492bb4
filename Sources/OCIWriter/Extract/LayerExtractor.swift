import CArchive
import COCISys

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Applies OCI layers (tar, tar+gzip, tar+zstd) onto a rootfs directory, treating every byte as hostile.
///
/// Safety model:
/// - Every path is resolved relative to a directory fd of the rootfs with openat2 `RESOLVE_IN_ROOT |
///   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`: symlinks met on the way (planted by this or an earlier layer,
///   absolute or relative) resolve inside the rootfs, never on the host. Every operation is then a *at call on the
///   resolved parent directory fd and the entry's last name component, which is never followed.
/// - Entry names with a `..` component are refused; a leading `/` (and `./`) is stripped (the name is
///   relative to the rootfs). `.` as anything other than a directory is refused.
/// - Regular files, symlinks, FIFOs, devices and hard links are created under a temporary name in the parent and
///   renamed over the entry name: an existing symlink or hard link at that name is replaced, never written
///   through. An existing directory at that name is removed first (recursively, with *at calls, never following
///   symlinks); a directory entry over an existing directory merges.
/// - Hard-link targets are resolved in-root without following the last component and must be regular files.
/// - Symlink targets are stored verbatim (never followed during extraction).
/// - Directory mode, owner, xattrs and mtime are applied after all entries of the layer, deepest first, and
///   only to the directory the entry created (checked by device + inode).
/// - Whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) remove only what existed before this layer
///   (entries created by the same layer are kept, whatever the order); their parent is resolved in-root like
///   any other path. `.wh.`, `.wh..` and `.wh...` are refused; other `.wh..wh.*` names (aufs metadata) are
///   skipped with a warning; a whiteout name used as a directory component is refused. Whiteout files are
///   never created.
/// - Overlay xattrs (`*.overlay.*`) and `security.selinux` are never applied.
///
/// On failure the rootfs is left partially extracted (entries before the failing one applied, directory
/// metadata of this layer not yet applied, at most one temporary `.ociforge-tmp-*` file in the failing entry's
/// parent); nothing outside it has been touched. Callers extract into a fresh directory and discard it on
/// failure: `unpack(layers:to:options:)` does exactly that.
///
/// Privileges: as root (or namespace root) everything applies. Unprivileged, use `ownership: .ignore` and
/// `devices: .skip` (the defaults when euid != 0); `trusted.*`/`security.*` xattrs become warnings under
/// `.bestEffort`; an entry written into a directory that an earlier layer left without owner write permission
/// (e.g. 0555) fails with EACCES naming the entry.
///
/// All calls block (file I/O, decompression): run them on a dedicated thread, not the cooperative pool.
public struct LayerExtractor: Sendable {
    public var options: LayerExtractionOptions

    public init(options: LayerExtractionOptions = LayerExtractionOptions()) {
        self.options = options
    }

    /// Applies the layer file at `layerPath` onto the rootfs directory `rootfs` (which must exist).
    /// `compression` nil detects none/gzip/zstd; a given value must match what the bytes are.
    @discardableResult
    public func apply(
        layer layerPath: String, compression: LayerCompression? = nil,
        to rootfs: String
    ) throws -> LayerExtractionReport {
        try apply(LayerSource(path: layerPath, compression: compression), to: rootfs)
    }

    /// Applies `layer` onto the rootfs directory `rootfs` (which must exist), verifying the blob digest, size
    /// and diffID the source declares, in the same pass. A digest, size or diffID mismatch is detected at the
    /// end of the blob, after its entries were applied: the rootfs must then be discarded (as `unpack` does).
    @discardableResult
    public func apply(_ layer: LayerSource, to rootfs: String) throws -> LayerExtractionReport {
        let rootFD = open(rootfs, O_RDONLY | At.oDirectory | O_CLOEXEC)
        if rootFD < 0 {
            throw OCIWriterError(.extraction, "cannot open the rootfs directory", path: rootfs, errno: errno)
        }
        let root = OwnedFD(rootFD)
        return try withExtendedLifetime(root) { try apply(layer, rootFD: root.raw) }
    }

    /// Applies `layer` onto the rootfs open as the directory fd `rootFD` (not closed).
    @discardableResult
    public func apply(_ layer: LayerSource, rootFD: Int32) throws -> LayerExtractionReport {
        try apply(layer, rootFD: rootFD, imageBytesBefore: 0)
    }

    /// As `apply(_:rootFD:)`, counting `imageBytesBefore` (what earlier layers of the image produced) against
    /// `ExtractionLimits.maxImageBytes`.
    func apply(_ layer: LayerSource, rootFD: Int32, imageBytesBefore: UInt64) throws -> LayerExtractionReport {
        let layerFD = open(layer.path, O_RDONLY | O_CLOEXEC)
        if layerFD < 0 {
            throw OCIWriterError(.extraction, "cannot open the layer file", path: layer.path, errno: errno)
        }
        let file = OwnedFD(layerFD)
        return try withExtendedLifetime(file) {
            try apply(layerFD: file.raw, source: layer, rootFD: rootFD, imageBytesBefore: imageBytesBefore)
        }
    }

    /// Applies a layer read from the open file descriptor `layerFD` (read from its current offset, not closed)
    /// onto the rootfs open as `rootFD`. `source.path` is only used in messages; its compression and
    /// expectations are checked.
    @discardableResult
    public func apply(
        layerFD: Int32, source: LayerSource, rootFD: Int32,
        imageBytesBefore: UInt64 = 0
    ) throws -> LayerExtractionReport {
        let dupRoot = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        if dupRoot < 0 { throw OCIWriterError(.extraction, "cannot duplicate the rootfs fd", errno: errno) }
        // Messages name the layer by digest when the caller knows it (blob paths are not meaningful to users).
        let label = source.digest.map { "\($0) (\(source.path))" } ?? source.path
        let applier = LayerApplier(root: OwnedFD(dupRoot), layerName: label, options: options)
        return try applier.run(fd: layerFD, source: source, imageBytesBefore: imageBytesBefore)
    }
}

/// Identifies a directory entry: the directory (device + inode) and the name in it.
private struct EntryKey: Hashable {
    var dev: UInt64
    var ino: UInt64
    var name: NameBytes
}

private struct DirKey: Hashable {
    var dev: UInt64
    var ino: UInt64
}

/// Metadata of a directory entry, applied after the whole layer.
private struct PendingDirectory {
    var path: NameBytes
    var depth: Int
    var key: DirKey
    var mode: UInt32
    var owner: (uid: UInt32, gid: UInt32)?
    var mtime: timespec?
    var xattrs: [(String, [UInt8])]
    var index: Int
    var entry: String
}

/// One layer's extraction state.
private final class LayerApplier {
    let root: OwnedFD
    let layerName: String
    let options: LayerExtractionOptions
    var warnings: [ExtractionWarning] = []
    /// Entries created (or re-declared) by this layer, for whiteout/opaque semantics.
    var created = Set<EntryKey>()
    /// Directories whose metadata this layer sets, by inode (the last declaration wins).
    var pending: [DirKey: PendingDirectory] = [:]
    var tempCounter = 0
    let tempPrefix: String
    /// Names of entries not created because of a policy (devices under `.skip`): hard links to them are skipped too.
    var skippedPaths = Set<NameBytes>()

    // Current entry (for messages).
    var index = -1
    var entryDisplay = ""

    init(root: OwnedFD, layerName: String, options: LayerExtractionOptions) {
        self.root = root
        self.layerName = layerName
        self.options = options
        self.tempPrefix = ".ociforge-tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-"
    }

    // MARK: errors

    func fail(_ code: OCIWriterError.Code, _ message: String, errno e: Int32? = nil) -> OCIWriterError {
        OCIWriterError(
            code, "layer \(layerName), entry #\(index) '\(entryDisplay)': \(message)",
            path: entryDisplay, errno: e)
    }

    func warn(_ message: String, kind: ExtractionWarning.Kind = .other) {
        warnings.append(ExtractionWarning(entryIndex: index, entry: entryDisplay, message: message, kind: kind))
    }

    // MARK: reading

    func run(fd: Int32, source: LayerSource, imageBytesBefore: UInt64) throws -> LayerExtractionReport {
        let limits = options.limits
        let stream = try LayerStream(fd: fd, name: layerName, limits: limits, imageBytesBefore: imageBytesBefore)
        if let expected = source.compression, expected != stream.compression {
            throw OCIWriterError(
                .extraction,
                "layer \(layerName) is declared \(expected.rawValue) but its bytes are \(stream.compression.rawValue)",
                path: layerName)
        }
        guard let a = archive_read_new() else {
            throw OCIWriterError(.extraction, "libarchive: out of memory", path: layerName)
        }
        defer { archive_read_free(a) }
        // Decompression is ours (LayerStream, to hash both sides); libarchive only parses tar.
        archive_read_support_format_tar(a)
        archive_read_support_format_empty(a)
        let ctx = Unmanaged.passUnretained(stream).toOpaque()
        let opened = withExtendedLifetime(stream) { archive_read_open(a, ctx, nil, layerStreamRead, nil) }
        if opened != ARCHIVE_OK {
            throw streamOrArchiveError(a, stream, "cannot read the layer")
        }
        var entries = 0
        var previous = "(start of layer)"
        while true {
            let before = archive_filter_bytes(a, 0)
            var entry: OpaquePointer?
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            index = entries
            entries += 1
            if r < ARCHIVE_WARN || entry == nil {
                if let f = stream.failure {
                    entryDisplay = "(after '\(previous)')"
                    throw fail(f.code, f.message)
                }
                entryDisplay = "?"
                throw OCIWriterError(
                    .extraction,
                    "layer \(layerName): malformed tar at entry #\(index) (after '\(previous)'): \(archiveError(a))",
                    path: layerName)
            }
            let e = entry!
            let rawPath =
                archive_entry_pathname(e).map { NameBytes(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? []
            entryDisplay = escapedName(rawPath)
            previous = entryDisplay
            if r == ARCHIVE_WARN, let msg = archive_error_string(a).map({ String(cString: $0) }),
                !msg.contains("can't be converted")
            {
                warn("libarchive: \(msg)")
            }
            // Limits first: nothing is applied for an entry over a limit.
            if entries > limits.maxEntries {
                throw fail(.limitExceeded, "more than \(limits.maxEntries) entries in the layer (entry count limit)")
            }
            let after = archive_filter_bytes(a, 0)
            if after - before > Int64(limits.maxHeaderBytes) {
                throw fail(
                    .limitExceeded,
                    "header (with PAX/GNU extension records) is \(after - before) bytes, over the limit of \(limits.maxHeaderBytes)"
                )
            }
            let declared = archive_entry_size_is_set(e) != 0 ? max(0, archive_entry_size(e)) : 0
            if UInt64(after) + UInt64(declared) > limits.maxTotalBytes {
                throw fail(
                    .limitExceeded,
                    "layer would exceed \(limits.maxTotalBytes) uncompressed bytes, the per-layer limit (maxTotalBytes; entry declares \(declared) bytes; decompression bomb?)"
                )
            }
            let imageTotal = imageBytesBefore.addingReportingOverflow(UInt64(after) + UInt64(declared))
            if imageTotal.overflow || imageTotal.partialValue > limits.maxImageBytes {
                throw fail(
                    .limitExceeded,
                    "image would exceed \(limits.maxImageBytes) uncompressed bytes, the per-image limit (maxImageBytes; entry declares \(declared) bytes)"
                )
            }
            try checkXattrSize(e)
            try applyEntry(a, e, rawPath, stream)
            // Consume what was not read (and the padding) so the next header's size is measured exactly.
            if archive_read_data_skip(a) < ARCHIVE_WARN {
                throw streamOrEntryError(a, stream, "cannot read the entry's data")
            }
        }
        index = entries
        entryDisplay = "(end of layer)"
        do { try stream.drain() } catch let e as OCIWriterError { throw fail(e.code, e.message) }
        let (digest, diffID) = stream.finish()
        if let want = source.size, UInt64(clamping: want) != stream.compressedSize || want < 0 {
            throw OCIWriterError(
                .sizeMismatch,
                "layer \(layerName) is \(stream.compressedSize) bytes, expected \(want); discard the rootfs",
                path: layerName)
        }
        if let want = source.digest, want != digest {
            throw OCIWriterError(
                .digestMismatch, "layer \(layerName) has digest \(digest), expected \(want); discard the rootfs",
                path: layerName)
        }
        if let want = source.diffID, want != diffID {
            throw OCIWriterError(
                .digestMismatch, "layer \(layerName) has diffID \(diffID), expected \(want); discard the rootfs",
                path: layerName)
        }
        try applyPendingDirectories()
        return LayerExtractionReport(
            entries: entries, uncompressedBytes: stream.uncompressedSize,
            compressedBytes: stream.compressedSize, compression: stream.compression,
            digest: digest, diffID: diffID, warnings: warnings)
    }

    func archiveError(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    func streamOrArchiveError(_ a: OpaquePointer, _ stream: LayerStream, _ what: String) -> OCIWriterError {
        if let f = stream.failure { return f }
        return OCIWriterError(.extraction, "layer \(layerName): \(what): \(archiveError(a))", path: layerName)
    }

    func streamOrEntryError(_ a: OpaquePointer, _ stream: LayerStream, _ what: String) -> OCIWriterError {
        if let f = stream.failure { return fail(f.code, f.message) }
        return fail(.extraction, "\(what): \(archiveError(a))")
    }

    // MARK: names

    /// Splits an entry name into components: leading `/` and `.` components dropped, `..` refused.
    func components(_ raw: NameBytes, what: String) throws -> [NameBytes] {
        let limits = options.limits
        if raw.count > limits.maxPathLength {
            throw fail(.limitExceeded, "\(what) is \(raw.count) bytes, over the limit of \(limits.maxPathLength)")
        }
        var out: [NameBytes] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.count == 1 && part.first == UInt8(ascii: ".") { continue }
            if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                throw fail(.unsafeEntry, "\(what) has a '..' component; refusing a path that could leave the rootfs")
            }
            if part.count > 255 {
                throw fail(.limitExceeded, "\(what) has a component of \(part.count) bytes (NAME_MAX is 255)")
            }
            out.append(NameBytes(part))
        }
        if out.count > limits.maxPathDepth {
            throw fail(
                .limitExceeded, "\(what) has \(out.count) components, over the depth limit of \(limits.maxPathDepth)")
        }
        return out
    }

    static let whPrefix = Array(".wh.".utf8)
    static let whMetaPrefix = Array(".wh..wh.".utf8)
    static let opaqueName = Array(".wh..wh..opq".utf8)

    static func isWhiteoutName(_ n: NameBytes) -> Bool { n.starts(with: whPrefix) }

    func join(_ comps: ArraySlice<NameBytes>) -> NameBytes {
        var p = NameBytes()
        for (i, c) in comps.enumerated() {
            if i > 0 { p.append(UInt8(ascii: "/")) }
            p.append(contentsOf: c)
        }
        return p
    }

    // MARK: resolution

    /// Opens (O_PATH) the directory `comps` resolved in-root. With `create`, missing directories are made
    /// (mode 0755, owned by the extracting user) under the deepest existing one. nil when missing and not
    /// creating.
    func openDirectory(_ comps: ArraySlice<NameBytes>, create: Bool) throws -> OwnedFD? {
        let flags = At.oPath | At.oDirectory
        switch At.openInRoot(root.raw, join(comps), flags: flags) {
        case .success(let fd): return OwnedFD(fd)
        case .failure(let e) where e.code == ENOENT:
            if !create { return nil }
        case .failure(let e):
            throw resolutionError(e, join(comps))
        }
        // Find the deepest existing prefix.
        var k = comps.count - 1
        var base: OwnedFD?
        while k > 0 {
            switch At.openInRoot(root.raw, join(comps.prefix(k)), flags: flags) {
            case .success(let fd): base = OwnedFD(fd)
            case .failure(let e) where e.code == ENOENT:
                k -= 1
                continue
            case .failure(let e): throw resolutionError(e, join(comps.prefix(k)))
            }
            break
        }
        var dir: OwnedFD = try base ?? reopenRoot()
        for i in (comps.startIndex + k)..<comps.endIndex {
            let name = comps[i]
            let r = withCName(name) { mkdirat(dir.raw, $0, 0o755) }
            if r != 0 {
                let e = errno
                if e == EEXIST {
                    let shown = escapedName(join(comps.prefix(i - comps.startIndex + 1)))
                    if case .success(let t) = At.readlink(dir.raw, name) {
                        throw fail(
                            .unsafeEntry,
                            "parent '\(shown)' is a symlink to '\(escapedName(t))', which is not a directory inside the rootfs (symlinks are resolved inside the rootfs, never on the host)"
                        )
                    }
                    throw fail(.unsafeEntry, "cannot create parent directory '\(shown)': a non-directory is in the way")
                }
                throw fail(
                    .extraction,
                    "cannot create parent directory '\(escapedName(join(comps.prefix(i - comps.startIndex + 1))))'",
                    errno: e)
            }
            try markCreated(dir.raw, name)
            let fd = withCName(name) { openat(dir.raw, $0, At.oPath | At.oDirectory | At.oNoFollow | O_CLOEXEC) }
            if fd < 0 { throw fail(.extraction, "cannot open the directory just created", errno: errno) }
            dir = OwnedFD(fd)
        }
        return dir
    }

    func reopenRoot() throws -> OwnedFD {
        let fd = fcntl(root.raw, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw fail(.extraction, "cannot duplicate the rootfs fd", errno: errno) }
        return OwnedFD(fd)
    }

    func resolutionError(_ e: Errno, _ path: NameBytes) -> OCIWriterError {
        let p = escapedName(path)
        switch e.code {
        case ENOTDIR:
            return fail(
                .unsafeEntry, "'\(p)' is not a directory (a parent of the entry is a file or a symlink to one)",
                errno: e.code)
        case ELOOP:
            return fail(
                .unsafeEntry, "too many levels of symbolic links resolving '\(p)' (symlink loop?)", errno: e.code)
        case EXDEV:
            return fail(.unsafeEntry, "resolving '\(p)' would cross a mount point or leave the rootfs", errno: e.code)
        case ENOSYS:
            return fail(
                .extraction, "openat2 is unavailable (Linux 5.6 or newer is required for safe extraction)",
                errno: e.code)
        case ENAMETOOLONG: return fail(.limitExceeded, "'\(p)' is too long to resolve", errno: e.code)
        default: return fail(.extraction, "cannot resolve '\(p)' in the rootfs", errno: e.code)
        }
    }

    func dirKey(_ fd: Int32) throws -> DirKey {
        switch At.fstat(fd) {
        case .success(let st): return DirKey(dev: st.dev, ino: st.ino)
        case .failure(let e): throw fail(.extraction, "fstat of a directory failed", errno: e.code)
        }
    }

    func markCreated(_ dirfd: Int32, _ name: NameBytes) throws {
        let k = try dirKey(dirfd)
        created.insert(EntryKey(dev: k.dev, ino: k.ino, name: name))
    }

    func isCreated(_ dir: DirKey, _ name: NameBytes) -> Bool {
        created.contains(EntryKey(dev: dir.dev, ino: dir.ino, name: name))
    }

    func lstat(_ dirfd: Int32, _ name: NameBytes) throws -> AtStat? {
        switch At.lstat(dirfd, name) {
        case .success(let s): return s
        case .failure(let e): throw fail(.extraction, "lstat of '\(escapedName(name))' failed", errno: e.code)
        }
    }

    func nextTempName() -> NameBytes {
        tempCounter += 1
        return Array((tempPrefix + String(tempCounter)).utf8)
    }

    // MARK: entries

    func applyEntry(_ a: OpaquePointer, _ e: OpaquePointer, _ rawPath: NameBytes, _ stream: LayerStream) throws {
        let comps = try components(rawPath, what: "name")
        let hardlink = archive_entry_hardlink(e).map { NameBytes(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
        let kind = FileKind(mode: UInt32(archive_entry_filetype(e)))

        guard let leaf = comps.last else {
            // The rootfs itself ("." or "/").
            if hardlink == nil && kind == .directory {
                let dir = try reopenRoot()
                try recordDirectory(e, path: [], dirFD: dir.raw)
                return
            }
            throw fail(
                .unsafeEntry,
                "the rootfs root ('.') can only be a directory; refusing a \(hardlink != nil ? "hard link" : kind.rawValue) there"
            )
        }
        let parentComps = comps.dropLast()
        if let bad = parentComps.first(where: Self.isWhiteoutName) {
            throw fail(.unsafeEntry, "whiteout name '\(escapedName(bad))' used as a directory")
        }
        if Self.isWhiteoutName(leaf) {
            try applyWhiteout(parentComps, leaf)
            return
        }
        let parent = try openDirectory(parentComps, create: true)!
        let existing = try lstat(parent.raw, leaf)

        if let hardlink {
            if try createHardLink(hardlink, parent: parent.raw, leaf: leaf, existing: existing) {
                try markCreated(parent.raw, leaf)
            } else {
                skippedPaths.insert(join(comps[...]))
            }
            return
        }
        switch kind {
        case .directory:
            try createDirectory(e, path: comps, parent: parent.raw, leaf: leaf, existing: existing)
        case .regular:
            try createRegular(a, e, stream, parent: parent.raw, leaf: leaf, existing: existing)
        case .symlink:
            try createSymlink(e, parent: parent.raw, leaf: leaf, existing: existing)
        case .fifo, .charDevice, .blockDevice:
            if kind != .fifo {
                switch options.devices {
                case .create: break
                case .skip:
                    warn(
                        "\(kind == .charDevice ? "character" : "block") device \(archive_entry_rdevmajor(e)):\(archive_entry_rdevminor(e)) skipped (device policy: skip)",
                        kind: .deviceSkipped)
                    skippedPaths.insert(join(comps[...]))
                    return
                case .refuse:
                    throw fail(.unsafeEntry, "device nodes are refused by the device policy")
                }
            }
            try createNode(e, kind: kind, parent: parent.raw, leaf: leaf, existing: existing)
        case .socket:
            warn("socket skipped (sockets cannot be extracted)")
            return
        case .unknown:
            throw fail(.extraction, "unsupported entry type (mode \(String(archive_entry_filetype(e), radix: 8)))")
        }
        try markCreated(parent.raw, leaf)
    }

    // MARK: metadata helpers

    func owner(_ e: OpaquePointer) throws -> (uid: UInt32, gid: UInt32)? {
        let uid = archive_entry_uid(e), gid = archive_entry_gid(e)
        guard uid >= 0, gid >= 0, uid <= Int64(UInt32.max - 1), gid <= Int64(UInt32.max - 1) else {
            throw fail(.unsafeEntry, "owner \(uid):\(gid) is not a valid uid:gid")
        }
        switch options.ownership {
        case .ignore: return nil
        case .preserve: return (UInt32(uid), UInt32(gid))
        case .map(let m):
            guard let hu = m.hostUID(forContainer: UInt32(uid)) else {
                throw fail(.unsafeEntry, "uid \(uid) is outside the id mapping")
            }
            guard let hg = m.hostGID(forContainer: UInt32(gid)) else {
                throw fail(.unsafeEntry, "gid \(gid) is outside the id mapping")
            }
            return (hu, hg)
        }
    }

    /// Permission bits (07777) after the setuid/setgid policy.
    func permissions(_ e: OpaquePointer, kind: FileKind) throws -> UInt32 {
        var mode = UInt32(archive_entry_perm(e)) & 0o7777
        if kind != .directory && mode & 0o6000 != 0 {
            switch options.setID {
            case .keep: break
            case .strip:
                warn("setuid/setgid bits stripped (mode \(String(mode, radix: 8)))")
                mode &= ~UInt32(0o6000)
            case .refuse:
                throw fail(.unsafeEntry, "setuid/setgid mode \(String(mode, radix: 8)) refused by the setuid policy")
            }
        }
        return mode
    }

    func mtime(_ e: OpaquePointer) -> timespec? {
        guard archive_entry_mtime_is_set(e) != 0 else { return nil }
        return timespec(tv_sec: archive_entry_mtime(e), tv_nsec: archive_entry_mtime_nsec(e))
    }

    /// The entry's xattrs that may be applied (overlay and SELinux ones dropped), in the layer's order.
    /// Refuses an entry whose extended attributes (names + values, all of them: filtered ones count too) are larger
    /// than `maxXattrBytes`.
    func checkXattrSize(_ e: OpaquePointer) throws {
        archive_entry_xattr_reset(e)
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var total = 0
        while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK {
            total += (name.map { strlen($0) } ?? 0) + size
            if total > options.limits.maxXattrBytes {
                throw fail(
                    .limitExceeded,
                    "extended attributes are over \(options.limits.maxXattrBytes) bytes, the per-entry xattr limit (maxXattrBytes)"
                )
            }
        }
    }

    func xattrs(_ e: OpaquePointer) -> [(String, [UInt8])] {
        if options.xattrs == .ignore { return [] }
        var out: [(String, [UInt8])] = []
        archive_entry_xattr_reset(e)
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let n = String(cString: name)
            if XattrFilter.isExcluded(n) {
                warn("xattr '\(n)' not applied (overlay and SELinux attributes never cross into a rootfs)")
                continue
            }
            let v = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            out.append((n, v))
        }
        return out
    }

    func setXattrs(_ list: [(String, [UInt8])], _ set: (String, [UInt8]) -> Int32) throws {
        for (n, v) in list {
            if set(n, v) == 0 { continue }
            let e = errno
            if options.xattrs == .bestEffort && (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EACCES) {
                warn("xattr '\(n)' not applied: \(Errno(e).text)")
                continue
            }
            throw fail(.extraction, "cannot set xattr '\(n)'", errno: e)
        }
    }

    /// chown, chmod, xattrs, times on an open (non O_PATH) fd, in the order that keeps setuid bits and
    /// capabilities (chown clears both).
    func applyMetadata(
        fd: Int32, owner: (uid: UInt32, gid: UInt32)?, mode: UInt32, xattrs: [(String, [UInt8])],
        mtime: timespec?
    ) throws {
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            throw fail(.extraction, "cannot chown to \(owner.uid):\(owner.gid)", errno: errno)
        }
        if fchmod(fd, mode) != 0 { throw fail(.extraction, "cannot chmod", errno: errno) }
        try setXattrs(xattrs) { n, v in v.withUnsafeBytes { ocisys_fsetxattr(fd, n, $0.baseAddress, v.count) } }
        if let mtime {
            var times = [mtime, mtime]
            if futimens(fd, &times) != 0 { throw fail(.extraction, "cannot set mtime", errno: errno) }
        }
    }

    /// Metadata for a name in a directory that cannot be opened for writing (symlink, FIFO, device).
    func applyMetadataAt(
        _ dirfd: Int32, _ name: NameBytes, owner: (uid: UInt32, gid: UInt32)?, mode: UInt32?,
        xattrs: [(String, [UInt8])], mtime: timespec?
    ) throws {
        try withCName(name) { cname in
            if let owner, fchownat(dirfd, cname, owner.uid, owner.gid, At.symlinkNoFollow) != 0 {
                throw fail(.extraction, "cannot chown to \(owner.uid):\(owner.gid)", errno: errno)
            }
            // Only for our own fresh non-symlink temp nodes: fchmodat follows symlinks.
            if let mode, fchmodat(dirfd, cname, mode, 0) != 0 { throw fail(.extraction, "cannot chmod", errno: errno) }
            try setXattrs(xattrs) { n, v in
                v.withUnsafeBytes { ocisys_lsetxattr_at(dirfd, cname, n, $0.baseAddress, v.count) }
            }
            if let mtime {
                var times = [mtime, mtime]
                if utimensat(dirfd, cname, &times, At.symlinkNoFollow) != 0 {
                    throw fail(.extraction, "cannot set mtime", errno: errno)
                }
            }
        }
    }

    /// Renames the temp name over `leaf`, removing an existing directory there first.
    func commit(_ parent: Int32, temp: NameBytes, leaf: NameBytes, existing: AtStat?) throws {
        if let existing, existing.kind == .directory {
            if let err = At.removeTree(parent, leaf) {
                throw fail(.extraction, "cannot remove the existing directory it replaces", errno: err.code)
            }
        }
        let r = withCName(temp) { t in withCName(leaf) { l in renameat(parent, t, parent, l) } }
        if r != 0 {
            let e = errno
            _ = withCName(temp) { unlinkat(parent, $0, 0) }
            throw fail(.extraction, "cannot rename the new entry into place", errno: e)
        }
    }

    // MARK: entry kinds

    func createRegular(
        _ a: OpaquePointer, _ e: OpaquePointer, _ stream: LayerStream, parent: Int32, leaf: NameBytes, existing: AtStat?
    ) throws {
        let owner = try owner(e)
        let mode = try permissions(e, kind: .regular)
        let xattrs = xattrs(e)
        let temp = nextTempName()
        let fd = withCName(temp) { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | At.oNoFollow | O_CLOEXEC, 0o600) }
        if fd < 0 { throw fail(.extraction, "cannot create the file", errno: errno) }
        let file = OwnedFD(fd)
        do {
            var buf: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            while true {
                let r = archive_read_data_block(a, &buf, &size, &offset)
                if r == ARCHIVE_EOF { break }
                if r < ARCHIVE_WARN { throw streamOrEntryError(a, stream, "cannot read the entry's data") }
                var done = 0
                while done < size, let base = buf {
                    let n = pwrite(file.raw, base + done, size - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw fail(.extraction, "cannot write the file", errno: errno)
                    }
                    done += n
                }
            }
            let declared = archive_entry_size_is_set(e) != 0 ? archive_entry_size(e) : 0
            if declared > 0, ftruncate(file.raw, off_t(declared)) != 0 {
                throw fail(.extraction, "cannot size the file", errno: errno)
            }
            try applyMetadata(fd: file.raw, owner: owner, mode: mode, xattrs: xattrs, mtime: mtime(e))
            try commit(parent, temp: temp, leaf: leaf, existing: existing)
        } catch {
            _ = withCName(temp) { unlinkat(parent, $0, 0) }
            throw error
        }
    }

    func createSymlink(_ e: OpaquePointer, parent: Int32, leaf: NameBytes, existing: AtStat?) throws {
        guard let t = archive_entry_symlink(e) else { throw fail(.extraction, "symlink without a target") }
        let target = NameBytes(UnsafeRawBufferPointer(start: t, count: strlen(t)))
        if target.isEmpty { throw fail(.unsafeEntry, "symlink with an empty target") }
        if target.count > options.limits.maxLinkTargetLength {
            throw fail(
                .limitExceeded,
                "symlink target is \(target.count) bytes, over the limit of \(options.limits.maxLinkTargetLength)")
        }
        let owner = try owner(e)
        let xattrs = xattrs(e)
        let temp = nextTempName()
        let r = withCName(target) { tc in withCName(temp) { symlinkat(tc, parent, $0) } }
        if r != 0 { throw fail(.extraction, "cannot create the symlink", errno: errno) }
        do {
            try applyMetadataAt(parent, temp, owner: owner, mode: nil, xattrs: xattrs, mtime: mtime(e))
            try commit(parent, temp: temp, leaf: leaf, existing: existing)
        } catch {
            _ = withCName(temp) { unlinkat(parent, $0, 0) }
            throw error
        }
    }

    func createNode(_ e: OpaquePointer, kind: FileKind, parent: Int32, leaf: NameBytes, existing: AtStat?) throws {
        let owner = try owner(e)
        let mode = try permissions(e, kind: kind)
        let xattrs = xattrs(e)
        let dev =
            kind == .fifo
            ? 0
            : ocisys_makedev(
                UInt32(truncatingIfNeeded: archive_entry_rdevmajor(e)),
                UInt32(truncatingIfNeeded: archive_entry_rdevminor(e)))
        let temp = nextTempName()
        let r = withCName(temp) { ocisys_mknodat(parent, $0, kind.typeBits | 0o600, dev) }
        if r != 0 {
            let err = errno
            throw fail(
                .extraction,
                "cannot create the \(kind == .fifo ? "FIFO" : "device node")\(err == EPERM ? " (device nodes need root; use the skip device policy when unprivileged)" : "")",
                errno: err)
        }
        do {
            try applyMetadataAt(parent, temp, owner: owner, mode: mode, xattrs: xattrs, mtime: mtime(e))
            try commit(parent, temp: temp, leaf: leaf, existing: existing)
        } catch {
            _ = withCName(temp) { unlinkat(parent, $0, 0) }
            throw error
        }
    }

    /// Returns false when the link was skipped.
    @discardableResult
    func createHardLink(_ rawTarget: NameBytes, parent: Int32, leaf: NameBytes, existing: AtStat?) throws -> Bool {
        let comps = try components(rawTarget, what: "hard link target '\(escapedName(rawTarget))'")
        if comps.isEmpty { throw fail(.unsafeEntry, "hard link to the rootfs root") }
        let tpath = join(comps[...])
        if skippedPaths.contains(tpath) {
            warn("hard link to '\(escapedName(tpath))' skipped (its target was skipped)")
            return false
        }
        let tfd: OwnedFD
        switch At.openInRoot(root.raw, tpath, flags: At.oPath | At.oNoFollow) {
        case .success(let fd): tfd = OwnedFD(fd)
        case .failure(let err) where err.code == ENOENT:
            throw fail(
                .unsafeEntry, "hard link target '\(escapedName(tpath))' does not exist in the rootfs", errno: err.code)
        case .failure(let err):
            throw resolutionError(err, tpath)
        }
        let st: AtStat
        switch At.fstat(tfd.raw) {
        case .success(let s): st = s
        case .failure(let err): throw fail(.extraction, "fstat of the hard link target failed", errno: err.code)
        }
        guard st.kind == .regular else {
            throw fail(
                .unsafeEntry,
                "hard link target '\(escapedName(tpath))' is a \(st.kind.rawValue), not a regular file in the rootfs")
        }
        if let existing, existing.dev == st.dev, existing.ino == st.ino { return true }
        let temp = nextTempName()
        let r = withCName(temp) { ocisys_linkat_fd(tfd.raw, parent, $0) }
        if r != 0 { throw fail(.extraction, "cannot create the hard link to '\(escapedName(tpath))'", errno: errno) }
        do {
            try commit(parent, temp: temp, leaf: leaf, existing: existing)
        } catch {
            _ = withCName(temp) { unlinkat(parent, $0, 0) }
            throw error
        }
        return true
    }

    func createDirectory(_ e: OpaquePointer, path: [NameBytes], parent: Int32, leaf: NameBytes, existing: AtStat?)
        throws
    {
        if let existing, existing.kind != .directory {
            let r = withCName(leaf) { unlinkat(parent, $0, 0) }
            if r != 0 {
                throw fail(
                    .extraction, "cannot remove the existing \(existing.kind.rawValue) the directory replaces",
                    errno: errno)
            }
        }
        if existing == nil || existing?.kind != .directory {
            let r = withCName(leaf) { mkdirat(parent, $0, 0o700) }
            if r != 0 { throw fail(.extraction, "cannot create the directory", errno: errno) }
        }
        let fd = withCName(leaf) { openat(parent, $0, At.oPath | At.oDirectory | At.oNoFollow | O_CLOEXEC) }
        if fd < 0 { throw fail(.extraction, "cannot open the directory", errno: errno) }
        let dir = OwnedFD(fd)
        try recordDirectory(e, path: path, dirFD: dir.raw)
    }

    func recordDirectory(_ e: OpaquePointer, path: [NameBytes], dirFD: Int32) throws {
        let key = try dirKey(dirFD)
        pending[key] = PendingDirectory(
            path: join(path[...]), depth: path.count, key: key,
            mode: try permissions(e, kind: .directory), owner: try owner(e),
            mtime: mtime(e), xattrs: xattrs(e), index: index, entry: entryDisplay)
    }

    /// Directory metadata, deepest first, applied only where the directory is still the one the entry made.
    func applyPendingDirectories() throws {
        let list = pending.values.sorted { a, b in
            a.depth != b.depth ? a.depth > b.depth : a.path.lexicographicallyPrecedes(b.path)
        }
        for d in list {
            index = d.index
            entryDisplay = d.entry
            guard
                case .success(let fd) = At.openInRoot(root.raw, d.path, flags: O_RDONLY | At.oDirectory | At.oNoFollow)
            else {
                continue  // replaced by a later entry (a file or symlink now): nothing to apply
            }
            let dir = OwnedFD(fd)
            guard case .success(let st) = At.fstat(dir.raw), st.dev == d.key.dev, st.ino == d.key.ino else { continue }
            try applyMetadata(fd: dir.raw, owner: d.owner, mode: d.mode, xattrs: d.xattrs, mtime: d.mtime)
        }
    }

    // MARK: whiteouts

    func applyWhiteout(_ parentComps: ArraySlice<NameBytes>, _ leaf: NameBytes) throws {
        if leaf == Self.opaqueName {
            guard let dir = try openDirectory(parentComps, create: false) else { return }
            try clearLower(dir.raw)
            return
        }
        if leaf.starts(with: Self.whMetaPrefix) {
            warn("whiteout metadata entry skipped (only .wh..wh..opq has a meaning in OCI layers)")
            return
        }
        let target = NameBytes(leaf.dropFirst(Self.whPrefix.count))
        if target.isEmpty || target == [UInt8(ascii: ".")] || target == [UInt8(ascii: "."), UInt8(ascii: ".")] {
            throw fail(.unsafeEntry, "invalid whiteout name (it names '\(escapedName(target))', not an entry)")
        }
        guard let dir = try openDirectory(parentComps, create: false) else { return }
        guard let st = try lstat(dir.raw, target) else { return }
        let key = try dirKey(dir.raw)
        if isCreated(key, target) {
            // Created by this layer: only what lies below it from lower layers is hidden.
            if st.kind == .directory {
                let fd = withCName(target) { openat(dir.raw, $0, At.oPath | At.oDirectory | At.oNoFollow | O_CLOEXEC) }
                if fd < 0 { throw fail(.extraction, "cannot open '\(escapedName(target))'", errno: errno) }
                let sub = OwnedFD(fd)
                try withExtendedLifetime(sub) { try clearLower(sub.raw) }
            }
            return
        }
        if let err = At.removeTree(dir.raw, target) {
            throw fail(.extraction, "cannot remove '\(escapedName(target))'", errno: err.code)
        }
    }

    /// Removes every entry of the directory that this layer did not create; recurses into directories the
    /// layer re-declared (their lower content is hidden too).
    func clearLower(_ dirfd: Int32) throws {
        let key = try dirKey(dirfd)
        let names: [NameBytes]
        switch At.listDirectory(dirfd) {
        case .success(let n): names = n
        case .failure(let err): throw fail(.extraction, "cannot list the directory", errno: err.code)
        }
        for name in names {
            if isCreated(key, name) {
                guard let st = try lstat(dirfd, name), st.kind == .directory else { continue }
                let fd = withCName(name) { openat(dirfd, $0, At.oPath | At.oDirectory | At.oNoFollow | O_CLOEXEC) }
                if fd < 0 { throw fail(.extraction, "cannot open '\(escapedName(name))'", errno: errno) }
                let sub = OwnedFD(fd)
                try withExtendedLifetime(sub) { try clearLower(sub.raw) }
            } else if let err = At.removeTree(dirfd, name) {
                throw fail(.extraction, "cannot remove '\(escapedName(name))'", errno: err.code)
            }
        }
    }
}

/// libarchive read callback: the next chunk of uncompressed tar from the `LayerStream` in `context` (shared by
/// extraction, `LayerFileReader` and `LayerListing`).
func layerStreamRead(
    _ a: OpaquePointer?, _ context: UnsafeMutableRawPointer?,
    _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    let stream = Unmanaged<LayerStream>.fromOpaque(context!).takeUnretainedValue()
    do {
        let chunk = try stream.next()
        buffer?.pointee = chunk.baseAddress
        return la_ssize_t(chunk.count)
    } catch let e as OCIWriterError {
        stream.failure = e
    } catch {
        stream.failure = OCIWriterError(.extraction, "reading the layer failed", path: stream.name)
    }
    return -1
}
