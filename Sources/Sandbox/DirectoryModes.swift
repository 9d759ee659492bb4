import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `mkdir(path, mode)` with the mode set explicitly afterwards, so the caller's umask never decides it (a state,
/// cache or staging directory made 0700 under `umask 077` is unreadable to the sandbox's mapped root, and a staged
/// directory's mode ends up in a layer). Returns 0, or -1 with `errno` set by `mkdir`.
public func makeDirectory(_ path: String, _ mode: mode_t) -> Int32 {
    guard mkdir(path, mode) == 0 else { return -1 }
    chmod(path, mode)
    return 0
}

/// Creates the missing directories of `path` (each `mode`, set explicitly). Throws `.state` naming the directory.
public func makeDirectories(_ path: String, _ mode: mode_t = 0o755) throws {
    var prefix = ""
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if makeDirectory(prefix, mode) != 0 && errno != EEXIST {
            throw SandboxError(.state, "cannot create the directory", errno: errno, detail: prefix)
        }
    }
}

/// Makes sure the existing directory `path` has at least the permission bits `required` (e.g. 0o711: others may
/// traverse it). One of ours left with fewer by an older run under a restrictive umask is repaired; one owned by
/// someone else is an error naming the fix.
public func requireDirectoryMode(_ path: String, _ required: mode_t) throws {
    var st = stat()
    guard stat(path, &st) == 0 else {
        throw SandboxError(.state, "cannot read the directory", errno: errno, detail: path)
    }
    let mode = st.st_mode & 0o7777
    guard mode & required != required else { return }
    if st.st_uid == geteuid(), chmod(path, mode | required) == 0 { return }
    throw SandboxError(
        .state,
        "\(path) has mode \(String(mode, radix: 8)) and cannot be repaired by this user: the sandbox's "
            + "root could not use it. Run `chmod \(String(required, radix: 8)) \(path)` or choose another directory",
        detail: path)
}
