import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes several files all-or-nothing as far as POSIX allows: every file goes to a temp file next to its
/// target first (written, mode set, fsynced); only when all temp files exist are they renamed over their
/// targets, one atomic rename each. A failure before the renames removes the temp files and changes nothing.
enum DeploymentFileWriter {
    /// `mode`: the target's own mode when it exists (in place), else 0644; independent of the umask.
    static func writeAll(_ files: [(target: String, bytes: [UInt8])]) throws {
        var temps: [(temp: String, target: String)] = []
        do {
            for f in files {
                temps.append((try writeTemp(f.bytes, next: f.target), f.target))
            }
        } catch {
            for t in temps { unlink(t.temp) }
            throw error
        }
        for (i, t) in temps.enumerated() where rename(t.temp, t.target) != 0 {
            let e = errno
            for rest in temps[i...] { unlink(rest.temp) }
            throw DeployBuildError(.write, "cannot rename \(t.temp) to \(t.target): \(String(cString: strerror(e)))")
        }
    }

    static func writeTemp(_ bytes: [UInt8], next target: String) throws -> String {
        let dir = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/.\(base).ociforge-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var st = stat()
        let mode: mode_t = stat(target, &st) == 0 ? st.st_mode & 0o7777 : 0o644
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DeployBuildError(.write, "cannot create \(temp): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                unlink(temp)
                throw DeployBuildError(.write, "cannot write \(temp): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            unlink(temp)
            throw DeployBuildError(.write, "cannot finish \(temp): \(String(cString: strerror(errno)))")
        }
        return temp
    }
}
