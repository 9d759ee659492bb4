/// Limits that bound what one layer (and one image) may make the extractor do. Each exceeded limit fails the
/// extraction with `OCIWriterError.Code.limitExceeded`, naming the layer (digest when known), the entry and the
/// limit. Defaults are far above anything a real base image does (Debian, Ubuntu, CUDA and JDK images were the
/// yardstick: their largest layers are a few GiB, compress at most ~10:1, hold ~100 k entries) and well below
/// what a hostile layer needs to exhaust a disk: see docs/hardening.md.
public struct ExtractionLimits: Sendable, Hashable {
    /// Uncompressed bytes of the tar stream (headers + data) of one layer.
    public var maxTotalBytes: UInt64
    /// Uncompressed bytes of all layers of one `unpack` (one image).
    public var maxImageBytes: UInt64
    /// Uncompressed bytes per compressed byte read, checked once a layer has produced `expansionCheckBytes`:
    /// deflate reaches ~1030:1 only on runs of one byte value (decompression bombs); real layers stay below 20:1.
    public var maxExpansionRatio: UInt64
    /// Uncompressed bytes a layer may produce before the expansion ratio is enforced (small layers such as a
    /// padded 10 KiB tar of one file legitimately compress 100:1).
    public var expansionCheckBytes: UInt64
    /// Tar entries in one layer (whiteouts included).
    public var maxEntries: Int
    /// Header bytes of one entry: ustar header plus PAX / GNU long-name records. libarchive itself refuses
    /// special headers above 1 MiB ("Special header too large"), so larger values have no effect.
    public var maxHeaderBytes: Int
    /// Bytes of an entry name (and of a hard-link target name).
    public var maxPathLength: Int
    /// Components of an entry name.
    public var maxPathDepth: Int
    /// Bytes of a symlink target.
    public var maxLinkTargetLength: Int
    /// Bytes of the extended attributes of one entry (names + values). The kernel caps one value at 64 KiB and
    /// ext4 keeps all of a file's attributes in one 4 KiB block.
    public var maxXattrBytes: Int

    /// Defaults: 64 GiB per layer, 256 GiB per image, expansion 200:1 checked past 256 MiB, 10 M entries,
    /// 1 MiB headers, 4096-byte names, depth 512, 4096-byte symlink targets, 64 KiB of xattrs per entry.
    public init(
        maxTotalBytes: UInt64 = 64 << 30, maxImageBytes: UInt64 = 256 << 30, maxExpansionRatio: UInt64 = 200,
        expansionCheckBytes: UInt64 = 256 << 20, maxEntries: Int = 10_000_000, maxHeaderBytes: Int = 1 << 20,
        maxPathLength: Int = 4096, maxPathDepth: Int = 512, maxLinkTargetLength: Int = 4096,
        maxXattrBytes: Int = 64 << 10
    ) {
        self.maxTotalBytes = maxTotalBytes
        self.maxImageBytes = maxImageBytes
        self.maxExpansionRatio = maxExpansionRatio
        self.expansionCheckBytes = expansionCheckBytes
        self.maxEntries = maxEntries
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPathLength = maxPathLength
        self.maxPathDepth = maxPathDepth
        self.maxLinkTargetLength = maxLinkTargetLength
        self.maxXattrBytes = maxXattrBytes
    }
}

/// What to do with owners recorded in the layer.
public enum OwnershipPolicy: Sendable, Hashable {
    /// chown every entry to the uid/gid in the tar header (needs root or CAP_CHOWN).
    case preserve
    /// Translate container ids to host ids through the mapping (`IDMapping` ranges, container → host), then
    /// chown. An id outside the mapping fails the extraction naming the entry.
    case map(IDMapping)
    /// Leave every entry owned by the extracting user (unprivileged extraction).
    case ignore
}

/// What to do with character and block device entries.
public enum DevicePolicy: Sendable, Hashable {
    /// mknod the device (needs root / CAP_MKNOD; fails naming the entry otherwise).
    case create
    /// Do not create it; record a warning naming the entry.
    case skip
    /// Fail the extraction naming the entry.
    case refuse
}

/// What to do with setuid / setgid bits on non-directories (setgid on directories and the sticky bit are
/// always kept: they grant nothing by themselves).
public enum SetIDPolicy: Sendable, Hashable {
    case keep
    /// Clear S_ISUID and S_ISGID; record a warning naming the entry.
    case strip
    /// Fail the extraction naming the entry.
    case refuse
}

/// What to do with extended attributes (overlay and SELinux attributes are never applied, whatever the policy).
public enum XattrPolicy: Sendable, Hashable {
    /// Apply; a failure fails the extraction.
    case apply
    /// Apply; EPERM / ENOTSUP / EOPNOTSUPP (e.g. `trusted.*` when unprivileged, a filesystem without xattrs)
    /// become warnings.
    case bestEffort
    /// Apply none.
    case ignore
}

public struct LayerExtractionOptions: Sendable, Hashable {
    public var limits: ExtractionLimits
    public var ownership: OwnershipPolicy
    public var devices: DevicePolicy
    public var setID: SetIDPolicy
    public var xattrs: XattrPolicy

    /// Defaults depend on privileges: as root, owners are preserved and devices created; otherwise owners are
    /// ignored and devices skipped with a warning. setuid/setgid bits are kept; xattrs best effort.
    public init(
        limits: ExtractionLimits = ExtractionLimits(), ownership: OwnershipPolicy? = nil,
        devices: DevicePolicy? = nil, setID: SetIDPolicy = .keep, xattrs: XattrPolicy = .bestEffort
    ) {
        let root = geteuid() == 0
        self.limits = limits
        self.ownership = ownership ?? (root ? .preserve : .ignore)
        self.devices = devices ?? (root ? .create : .skip)
        self.setID = setID
        self.xattrs = xattrs
    }
}

/// A non-fatal event during extraction (a skipped socket or device, a stripped setuid bit, an xattr the
/// filesystem refused under `.bestEffort`).
public struct ExtractionWarning: Sendable, Hashable, CustomStringConvertible {
    /// Index of the entry in its layer (0-based).
    public var entryIndex: Int
    /// Entry name as written in the layer (non-UTF-8 bytes escaped as \xNN).
    public var entry: String
    public var message: String
    /// What kind of warning it is (decide on this, never on `message`).
    public var kind: Kind = .other
    public var description: String { "entry #\(entryIndex) '\(entry)': \(message)" }

    public enum Kind: Sendable, Hashable {
        /// A character or block device skipped by the device policy `.skip`.
        case deviceSkipped
        /// Anything else (sockets, stripped bits, xattrs, skipped links, libarchive notes).
        case other
    }
}

/// What one layer did.
public struct LayerExtractionReport: Sendable, Hashable {
    /// Entries read (whiteouts included).
    public var entries: Int
    /// Uncompressed tar bytes (the whole blob decompressed, trailing padding included).
    public var uncompressedBytes: UInt64
    /// Bytes of the blob as stored.
    public var compressedBytes: UInt64
    /// Compression detected from the blob's magic bytes.
    public var compression: LayerCompression
    /// sha256 of the blob as stored (the layer descriptor's digest).
    public var digest: Digest
    /// sha256 of the uncompressed tar (the config's rootfs.diff_ids entry).
    public var diffID: Digest
    public var warnings: [ExtractionWarning]
}

/// Which xattrs never cross into a rootfs (and are ignored by `TreeManifest`): any overlayfs attribute
/// (`trusted.overlay.*`, `user.overlay.*`, any `*.overlay.*`) and `security.selinux` (host labelling).
public enum XattrFilter {
    public static func isExcluded(_ name: String) -> Bool {
        if name == "security.selinux" { return true }
        if name.hasPrefix("trusted.overlay.") || name.hasPrefix("user.overlay.") { return true }
        return name.contains(".overlay.")
    }
}

extension IDMapping {
    /// The host uid of a container uid, or nil when unmapped (inverse of `containerUID(forHost:)`).
    public func hostUID(forContainer id: UInt32) -> UInt32? { Self.inverse(id, uids) }
    public func hostGID(forContainer id: UInt32) -> UInt32? { Self.inverse(id, gids) }

    private static func inverse(_ id: UInt32, _ ranges: [Range]) -> UInt32? {
        for r in ranges where id >= r.containerID && UInt64(id) < UInt64(r.containerID) + UInt64(r.count) {
            return r.hostID + (id - r.containerID)
        }
        return nil
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
