import COCISys

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Small POSIX helpers for the layout store: every call retries EINTR and turns failures into `OCIWriterError`
/// naming the path. Kept in one namespace so they cannot clash with other parts of the module.
enum LayoutIO {
    static let chunkSize = 1 << 20

    /// Opens a regular file for reading without following a symlink in its last component.
    static func openRegularFile(_ path: String) throws -> Int32 {
        let fd = retrying { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw OCIWriterError(.notFound, "file not found", path: path) }
            if e == ELOOP {
                throw OCIWriterError(
                    .layout, "is a symbolic link; files of an OCI layout must be regular files", path: path)
            }
            throw OCIWriterError.sys("cannot open for reading", path: path, errno: e)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw OCIWriterError.sys("cannot stat", path: path, errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw OCIWriterError(.layout, "is not a regular file", path: path)
        }
        return fd
    }

    static func fileSize(_ fd: Int32, path: String) throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OCIWriterError.sys("cannot stat", path: path) }
        return Int64(st.st_size)
    }

    /// `lstat` kind: nil when the path does not exist.
    static func kind(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    /// Whether two paths name the same file (device and inode), following symlinks.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw OCIWriterError.sys("read failed", path: path)
        }
    }

    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw OCIWriterError.sys("write failed", path: path)
            }
            p += n
            left -= n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        guard retrying({ Glibc.fsync(fd) }) == 0 else { throw OCIWriterError.sys("fsync failed", path: path) }
    }

    /// fsyncs a directory so a rename or creation inside it is durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = retrying { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open directory", path: path) }
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// Creates a new, exclusive temporary file in `directory`; returns its fd and path.
    static func createTemporary(in directory: String, prefix: String) throws -> (fd: Int32, path: String) {
        for _ in 0..<16 {
            let name = "\(prefix)\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
            let path = directory + "/" + name
            let fd = retrying { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644) }
            if fd >= 0 {
                // Modes independent of the umask.
                _ = fchmod(fd, 0o644)
                return (fd, path)
            }
            if errno != EEXIST { throw OCIWriterError.sys("cannot create temporary file", path: path) }
        }
        throw OCIWriterError(.io, "cannot create a unique temporary file", path: directory)
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw OCIWriterError.sys("cannot rename '\(from)' into place", path: to)
        }
    }

    /// rename without replacing an existing target; returns false when the target exists.
    static func renameNoReplace(_ from: String, _ to: String) throws -> Bool {
        if ocisys_renameat2(AT_FDCWD, from, AT_FDCWD, to, 1) == 0 { return true }
        let e = errno
        if e == EEXIST { return false }
        if e == EINVAL || e == ENOSYS {
            // Filesystem without RENAME_NOREPLACE: link() fails with EEXIST as well.
            if link(from, to) == 0 {
                unlink(from)
                return true
            }
            if errno == EEXIST { return false }
        }
        throw OCIWriterError.sys("cannot rename '\(from)' into place", path: to, errno: e)
    }

    static func unlinkQuietly(_ path: String) { _ = unlink(path) }

    /// mkdir -p with mode 0755, whatever the umask: each directory this creates gets its mode set explicitly
    /// (mkdir's mode is masked by the umask); an existing one is left as it is.
    static func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = parentPath(of: path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(path, 0o755) == 0 {
            if chmod(path, 0o755) != 0 { throw OCIWriterError.sys("cannot set the mode of directory", path: path) }
        } else if errno != EEXIST {
            throw OCIWriterError.sys("cannot create directory", path: path)
        }
        guard isDirectory(path) else { throw OCIWriterError(.layout, "exists and is not a directory", path: path) }
    }

    static func parentPath(of path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    /// Entry names of a directory (without `.` and `..`), nil when it cannot be opened.
    static func listDirectory(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Reads a whole small file, refusing files larger than `limit`.
    static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try openRegularFile(path)
        defer { close(fd) }
        let size = try fileSize(fd, path: path)
        guard size <= Int64(limit) else {
            throw OCIWriterError(
                .limitExceeded, "file is \(size) bytes, more than the \(limit)-byte limit for this document", path: path
            )
        }
        var out = [UInt8](repeating: 0, count: Int(size) + 1)
        var filled = 0
        while filled < out.count {
            let n = try out.withUnsafeMutableBytes { buf in
                try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buf[filled...]), path: path)
            }
            if n == 0 { break }
            filled += n
        }
        guard filled <= limit else {
            throw OCIWriterError(
                .limitExceeded, "file grew beyond the \(limit)-byte limit while being read", path: path)
        }
        out.removeLast(out.count - filled)
        return out
    }

    /// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync directory.
    static func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let dir = parentPath(of: path)
        let (fd, tmp) = try createTemporary(in: dir, prefix: ".ociforge-tmp-")
        do {
            try writeAll(fd, bytes, path: tmp)
            try fsync(fd, path: tmp)
            close(fd)
        } catch {
            close(fd)
            unlinkQuietly(tmp)
            throw error
        }
        do {
            try rename(tmp, path)
        } catch {
            unlinkQuietly(tmp)
            throw error
        }
        try fsyncDirectory(dir)
    }

    static func retrying(_ call: () -> Int32) -> Int32 {
        while true {
            let r = call()
            if r < 0 && errno == EINTR { continue }
            return r
        }
    }
}
