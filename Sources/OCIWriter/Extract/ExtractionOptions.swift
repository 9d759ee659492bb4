/// Limits that bound what one layer may make the extractor do. Each exceeded limit fails the extraction with
/// `OCIWriterError.Code.limitExceeded`, naming the entry and its index.
public struct ExtractionLimits: Sendable, Hashable {
    /// Uncompressed bytes of the tar stream (headers + data) of one layer. Guards against decompression bombs.
    public var maxTotalBytes: UInt64
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

    /// Defaults sized for real base images: 64 GiB, 10 M entries, 1 MiB headers, 4096-byte names,
    /// depth 512, 4096-byte symlink targets.
    public init(maxTotalBytes: UInt64 = 64 << 30, maxEntries: Int = 10_000_000, maxHeaderBytes: Int = 1 << 20,
                maxPathLength: Int = 4096, maxPathDepth: Int = 512, maxLinkTargetLength: Int = 4096) {
        self.maxTotalBytes = maxTotalBytes
        self.maxEntries = maxEntries
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPathLength = maxPathLength
        self.maxPathDepth = maxPathDepth
        self.maxLinkTargetLength = maxLinkTargetLength
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
    public init(limits: ExtractionLimits = ExtractionLimits(), ownership: OwnershipPolicy? = nil,
                devices: DevicePolicy? = nil, setID: SetIDPolicy = .keep, xattrs: XattrPolicy = .bestEffort) {
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
    public var description: String { "entry #\(entryIndex) '\(entry)': \(message)" }
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
