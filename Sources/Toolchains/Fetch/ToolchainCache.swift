import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// The host's content-addressed archive cache, shared by all builds and never part of a layer:
///
///     <state>/toolchains/blobs/sha256/<hex>        verified archives (mode 0644)
///     <state>/toolchains/checksums/sha512/<hex>    "sha256:<hex>" of the archive a published SHA-512 named
///     <state>/toolchains/checksums/openpgp/<hex>   "sha256:<hex>" of the archive a detached signature (by the
///                                                  sha256 of its bytes) was verified against
///     <state>/toolchains/tmp/                      downloads in progress (renamed into blobs/ once verified)
///
/// Directories are 0755, set explicitly (independent of the umask). A blob only ever appears by an atomic rename
/// of a fully downloaded, verified file, so a reader sees a complete archive or none.
public struct ToolchainCache: Sendable {
    /// `<state>/toolchains`.
    public let root: String

    public init(stateDirectory: String) {
        var s = stateDirectory
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        root = s + "/toolchains"
    }

    public func blobPath(_ digest: Digest) -> String { root + "/blobs/sha256/" + digest.hex }

    public func contains(_ digest: Digest) -> Bool {
        var st = stat()
        return lstat(blobPath(digest), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The archive digest recorded for a published SHA-512 (nil when unknown or its blob is gone).
    func digest(forSHA512 sum: Checksum) -> Digest? {
        sum.algorithm == .sha512 ? recorded("sha512", sum.hex) : nil
    }

    /// The archive digest recorded for a verified detached signature (by its bytes' digest), or nil.
    func digest(forSignature signature: Digest) -> Digest? { recorded("openpgp", signature.hex) }

    private func recorded(_ kind: String, _ hex: String) -> Digest? {
        guard let text = try? String(contentsOfFile: root + "/checksums/\(kind)/" + hex, encoding: .utf8),
            let d = try? Digest(text.trimmingCharacters(in: .whitespacesAndNewlines)), contains(d)
        else { return nil }
        return d
    }

    /// A fresh path in `tmp/` for a download (the file itself is created by the transport).
    func temporaryPath() throws(ToolchainError) -> String {
        try makeDirectories(["tmp"])
        return root + "/tmp/download-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Moves a verified file into `blobs/sha256/<hex>` (mode 0644). An existing blob (another build won the race)
    /// is kept and `file` removed.
    func commit(_ file: String, as digest: Digest) throws(ToolchainError) {
        try makeDirectories(["blobs", "blobs/sha256"])
        guard chmod(file, 0o644) == 0 else {
            throw ToolchainError(.io, "cannot chmod the download", path: file, cause: Errno(errno))
        }
        guard rename(file, blobPath(digest)) == 0 else {
            let e = errno
            unlink(file)
            throw ToolchainError(
                .io, "cannot move the verified archive into the cache", path: blobPath(digest), cause: Errno(e))
        }
    }

    /// Records which archive a published SHA-512 named (written to a temporary file, renamed into place).
    func record(sha512 sum: Checksum, digest: Digest) throws(ToolchainError) {
        try record("sha512", sum.hex, digest: digest)
    }

    /// Notes which archive a detached signature (by its bytes' digest) verified.
    func record(signature: Digest, digest: Digest) throws(ToolchainError) {
        try record("openpgp", signature.hex, digest: digest)
    }

    private func record(_ kind: String, _ hex: String, digest: Digest) throws(ToolchainError) {
        try makeDirectories(["checksums", "checksums/\(kind)"])
        let tmp = try temporaryPath()
        guard
            FileManager.default.createFile(
                atPath: tmp, contents: Data(digest.string.utf8),
                attributes: [.posixPermissions: 0o644])
        else {
            throw ToolchainError(.io, "cannot write the checksum record", path: tmp)
        }
        chmod(tmp, 0o644)
        guard rename(tmp, root + "/checksums/\(kind)/" + hex) == 0 else {
            let e = errno
            unlink(tmp)
            throw ToolchainError(
                .io, "cannot record the \(kind) check of an archive", path: root + "/checksums/\(kind)",
                cause: Errno(e))
        }
    }

    /// Creates `root` and the given subdirectories (relative, in order) with mode 0755.
    private func makeDirectories(_ subs: [String]) throws(ToolchainError) {
        try Self.makeDirectory(root, parents: true)
        for s in subs { try Self.makeDirectory(root + "/" + s, parents: false) }
    }

    /// `mkdir` with mode 0755 set by chmod (so the umask does not matter); an existing directory is accepted.
    static func makeDirectory(_ path: String, parents: Bool) throws(ToolchainError) {
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ToolchainError(.io, "exists and is not a directory", path: path)
            }
            return
        }
        if parents, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]), parents: true)
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw ToolchainError(.io, "cannot create directory", path: path, cause: Errno(errno))
        }
        guard chmod(path, 0o755) == 0 else {
            throw ToolchainError(.io, "cannot chmod directory", path: path, cause: Errno(errno))
        }
    }
}
