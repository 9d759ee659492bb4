import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Free space for a Debian base assembled by mmdebstrap into `bases/` of the state directory: checked before
/// mmdebstrap runs (it downloads and installs for minutes before it writes the tarball), and recognised when the
/// filesystem filled up while it wrote, so both say which directory needs how much space instead of mmdebstrap's
/// last lines.
extension BaseStore {
    /// Bytes a Debian minbase tarball takes (bookworm ~163 MiB, trixie ~118 MiB, with some margin); packages added
    /// with `--include` need more. Unpacking it needs as much again (checked by the extractor as it writes).
    public static let debianTarballBytes: UInt64 = 192 << 20

    /// Bytes available to this user on the filesystem of `path`, nil when it cannot be measured.
    static func availableBytes(_ path: String) -> UInt64? {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
    }

    /// Fails when the filesystem of `bases/` has less than `needed` bytes free (before mmdebstrap runs).
    func requireSpaceForDebianBase(suite: String, needed: UInt64) throws(BuildEngineError) {
        guard let free = Self.availableBytes(state.bases), free < needed else { return }
        throw BuildEngineError(
            .base,
            "not enough space to assemble debian:\(suite): \(state.bases) has \(Self.mebibytes(free)) free, a Debian minbase tarball needs about \(Self.mebibytes(needed)) (and as much again to unpack it); free space there or set OCIFORGE_STATE_DIR to a directory on a larger filesystem",
            cause: POSIXError(.ENOSPC))
    }

    /// The error for an mmdebstrap run that failed while the filesystem of `bases/` was full (less than 1 MiB
    /// free with its partial tarball `tmp` still present), else nil (another failure: the caller reports it).
    func diskFullError(suite: String, tmp: String, needed: UInt64) -> BuildEngineError? {
        guard let free = Self.availableBytes(state.bases), free < 1 << 20 else { return nil }
        var st = stat()
        let written = lstat(tmp, &st) == 0 ? UInt64(st.st_size) : 0
        return BuildEngineError(
            .base,
            "the filesystem of \(state.bases) filled up while mmdebstrap wrote the debian:\(suite) base (\(Self.mebibytes(written)) written, \(Self.mebibytes(free)) left); it needs at least \(Self.mebibytes(max(needed, written + (1 << 20)))) for the tarball and as much again to unpack it; the partial tarball was removed: free space there or set OCIFORGE_STATE_DIR to a directory on a larger filesystem",
            cause: POSIXError(.ENOSPC))
    }

    static func mebibytes(_ bytes: UInt64) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
