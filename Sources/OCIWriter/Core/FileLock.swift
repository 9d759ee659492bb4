#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An exclusive `flock(2)` on a lock file, held for the duration of a closure: the mutual exclusion that
/// read-modify-write protocols on shared on-disk state need across processes (two builds storing the same cache
/// entry, two pulls tagging one layout). The lock belongs to a fresh open file description, so it also excludes
/// other threads of this process; the kernel releases it when the holder dies, so a killed process never leaves
/// it held. The lock file itself is never removed (removing it would let a waiter and a newcomer both "hold" it).
public enum FileLock {
    /// Runs `body` holding the exclusive lock on `path` (created mode 0644 when missing).
    public static func withExclusive<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = LayoutIO.retrying { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open the lock file", path: path) }
        defer { close(fd) }  // closing the only descriptor releases the lock
        guard LayoutIO.retrying({ flock(fd, LOCK_EX) }) == 0 else {
            throw OCIWriterError.sys("cannot take the lock (flock)", path: path)
        }
        return try body()
    }
}
