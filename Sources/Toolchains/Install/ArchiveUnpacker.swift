import CArchive
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Unpacks a verified toolchain archive (tar.gz, tar.xz, zip) into a fresh directory, treating its names as
/// hostile: absolute names, `..` components, symlinks whose target leaves the tree, entries written through a
/// symlink, hard links to anything but an earlier regular file, devices, FIFOs and sockets are refused.
/// Modes are normalised (0755 for directories and files with any execute bit, else 0644; no setuid, setgid,
/// sticky or group/other write); owners and mtimes are not applied (the layer writer sets them).
/// Blocking: call from a dedicated thread.
struct ArchiveUnpacker {
    struct Limits {
        var maxEntries = 500_000
        var maxTotalBytes: Int64 = 16 << 30
        var maxNameBytes = 4096
    }

    /// A symlink created, for the containment re-check after the top-level directory is stripped.
    struct Link {
        var entry: [String]
        var target: String
    }

    let archive: String
    let url: String
    var limits = Limits()

    /// Unpacks into the existing empty directory `dir`; returns the symlinks created.
    func unpack(format: ArchiveFormat, into dir: String) throws(ToolchainError) -> [Link] {
        guard let a = archive_read_new() else { fatalError("archive_read_new failed: out of memory") }
        defer { archive_read_free(a) }
        switch format {
        case .zip:
            archive_read_support_format_zip(a)
        case .tarGzip, .tarXz:
            archive_read_support_format_tar(a)
            archive_read_support_format_gnutar(a)
            archive_read_support_filter_gzip(a)
            archive_read_support_filter_xz(a)
        }
        guard archive_read_open_filename(a, archive, 1 << 20) == ARCHIVE_OK else {
            throw fail(.archive, "cannot open the \(format.rawValue) archive: \(message(a))")
        }
        let rootFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            throw ToolchainError(.io, "cannot open the unpack directory", path: dir, cause: Errno(errno))
        }
        defer { close(rootFD) }
        var links: [Link] = []
        var total: Int64 = 0
        var count = 0
        while true {
            var entry: OpaquePointer?
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            guard r >= ARCHIVE_WARN, let e = entry else { throw fail(.archive, "unreadable archive: \(message(a))") }
            count += 1
            guard count <= limits.maxEntries else { throw fail(.tooLarge, "more than \(limits.maxEntries) entries") }
            let name = archive_entry_pathname(e).map { String(cString: $0) } ?? ""
            guard name.utf8.count <= limits.maxNameBytes else {
                throw fail(.hostileArchive, "entry name longer than \(limits.maxNameBytes) bytes")
            }
            guard let parts = ArchivePath.components(name) else {
                throw fail(
                    .hostileArchive, "entry '\(name)' is absolute, empty or has a '..' component; refused", entry: name)
            }
            if parts.isEmpty { continue }  // "./" itself
            let writer = EntryWriter(rootFD: rootFD, parts: parts, name: name, unpacker: self)
            if let hard = archive_entry_hardlink(e).map({ String(cString: $0) }) {
                try writer.hardLink(to: hard)
                continue
            }
            let type = UInt32(archive_entry_filetype(e))
            let perm = UInt32(archive_entry_perm(e))
            if type == ociforge_ae_ifdir() {
                try writer.directory()
            } else if type == ociforge_ae_ifreg() {
                total += try writer.file(a, executable: perm & 0o111 != 0, budget: limits.maxTotalBytes - total)
            } else if type == ociforge_ae_iflnk() {
                let target = archive_entry_symlink(e).map { String(cString: $0) } ?? ""
                guard ArchivePath.symlinkStaysInside(entry: parts, target: target) else {
                    throw fail(
                        .hostileArchive, "symlink '\(name)' -> '\(target)' leaves the toolchain tree; refused",
                        entry: name)
                }
                try writer.symlink(target)
                links.append(Link(entry: parts, target: target))
            } else {
                throw fail(
                    .hostileArchive,
                    "entry '\(name)' is a device, FIFO or socket (mode \(String(type, radix: 8))); refused",
                    entry: name)
            }
        }
        return links
    }

    func fail(_ code: ToolchainError.Code, _ msg: String, entry: String? = nil, cause: (any Error)? = nil)
        -> ToolchainError
    {
        ToolchainError(code, msg, url: url, path: archive + (entry.map { ":" + $0 } ?? ""), cause: cause)
    }

    private func message(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
    }
}

/// Creates one entry relative to the unpack root, walking its parent directories with `O_NOFOLLOW`.
private struct EntryWriter {
    let rootFD: Int32
    let parts: [String]
    let name: String
    let unpacker: ArchiveUnpacker

    /// Opens (creating missing ones, 0755) the directories of `components`; never follows a symlink.
    private func openDirectory(_ components: some Collection<String>) throws(ToolchainError) -> Int32 {
        var fd = dup(rootFD)
        for c in components {
            var next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                if mkdirat(fd, c, 0o700) == 0 { fchmodat(fd, c, 0o755, 0) }
                next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let e = errno
            close(fd)
            guard next >= 0 else {
                let why = e == ELOOP || e == ENOTDIR ? "goes through a symlink or a file" : "cannot open its directory"
                throw unpacker.fail(
                    e == ELOOP || e == ENOTDIR ? .hostileArchive : .io,
                    "entry '\(name)' \(why) ('\(c)'); refused", entry: name, cause: Errno(e))
            }
            fd = next
        }
        return fd
    }

    private var last: String { parts[parts.count - 1] }

    func directory() throws(ToolchainError) {
        close(try openDirectory(parts))
    }

    func file(_ a: OpaquePointer, executable: Bool, budget: Int64) throws(ToolchainError) -> Int64 {
        let dir = try openDirectory(parts.dropLast())
        defer { close(dir) }
        let fd = openat(dir, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw unpacker.fail(
                errno == EEXIST ? .hostileArchive : .io, "cannot create '\(name)' (duplicate entry?)",
                entry: name, cause: Errno(errno))
        }
        defer { close(fd) }
        var written: Int64 = 0
        while true {
            var buf: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            let r = archive_read_data_block(a, &buf, &size, &offset)
            if r == ARCHIVE_EOF { break }
            guard r >= ARCHIVE_WARN else {
                throw unpacker.fail(
                    .archive, "cannot read '\(name)': \(archive_error_string(a).map { String(cString: $0) } ?? "?")",
                    entry: name)
            }
            written = max(written, offset + Int64(size))
            guard written <= budget else {
                throw unpacker.fail(.tooLarge, "the unpacked archive exceeds its size limit", entry: name)
            }
            var done = 0
            while done < size {
                let n = pwrite(fd, buf! + done, size - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw unpacker.fail(.io, "cannot write '\(name)'", entry: name, cause: Errno(errno))
                }
                done += n
            }
        }
        guard ftruncate(fd, off_t(written)) == 0, fchmod(fd, executable ? 0o755 : 0o644) == 0 else {
            throw unpacker.fail(.io, "cannot finish '\(name)'", entry: name, cause: Errno(errno))
        }
        return written
    }

    func symlink(_ target: String) throws(ToolchainError) {
        let dir = try openDirectory(parts.dropLast())
        defer { close(dir) }
        guard symlinkat(target, dir, last) == 0 else {
            throw unpacker.fail(
                errno == EEXIST ? .hostileArchive : .io, "cannot create symlink '\(name)' (duplicate entry?)",
                entry: name, cause: Errno(errno))
        }
    }

    func hardLink(to targetName: String) throws(ToolchainError) {
        guard let target = ArchivePath.components(targetName), !target.isEmpty else {
            throw unpacker.fail(
                .hostileArchive, "hard link '\(name)' -> '\(targetName)' leaves the tree; refused", entry: name)
        }
        let from = try openDirectory(target.dropLast())
        defer { close(from) }
        var st = stat()
        guard fstatat(from, target[target.count - 1], &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG
        else {
            throw unpacker.fail(
                .hostileArchive,
                "hard link '\(name)' -> '\(targetName)': the target is not an earlier regular file; refused",
                entry: name)
        }
        let dir = try openDirectory(parts.dropLast())
        defer { close(dir) }
        guard linkat(from, target[target.count - 1], dir, last, 0) == 0 else {
            throw unpacker.fail(
                errno == EEXIST ? .hostileArchive : .io, "cannot create hard link '\(name)'", entry: name,
                cause: Errno(errno))
        }
    }
}
