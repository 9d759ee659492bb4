import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The directories a build writes — the state directory, the layer cache and the destination layout — checked
/// before any work: one on a read-only mount, or that this user may not write, fails the build at once with an
/// error naming the directory and the flag (or variable) that moves it, instead of failing after minutes of work
/// with a half-written cache entry or layout.
enum WritableOutputs {
    /// One directory the build will write.
    struct Target {
        /// What it is, for the message ("output layout").
        var role: String
        var path: String
        /// How to choose another one.
        var remedy: String
        var code: BuildEngineError.Code
        /// Subdirectories written when they already exist (e.g. a layout's `blobs/sha256`).
        var subdirectories: [String] = []
    }

    /// The state directory `state`, the layer cache and the destination layout of `request`.
    static func targets(_ request: BuildRequest, state: StateDirectory) -> [Target] {
        let cache = request.options.cacheDirectory ?? state.path + "/build-cache"
        return [
            Target(
                role: "state directory", path: state.path,
                remedy: "set OCIFORGE_STATE_DIR to a writable directory", code: .cache),
            Target(
                role: "layer cache", path: cache, remedy: "choose a writable directory with --cache-dir <dir>",
                code: .cache),
            layoutTarget(request)
        ]
    }

    /// The destination layout: the `--output` layout, or `<app>/.ociforge/oci` (the default output, and where a
    /// registry or archive output is staged).
    static func layoutTarget(_ request: BuildRequest) -> Target {
        let path = request.destination().layoutPath
        let remedy: String
        switch request.options.output {
        case .ociLayout?: remedy = "choose a writable directory with --output oci-layout:<dir>[:tag]"
        case nil: remedy = "make the app directory writable or choose an output with --output oci-layout:<dir>[:tag]"
        case .some: remedy = "the image is staged there before it is sent: make the app directory writable"
        }
        return Target(
            role: "output layout", path: path, remedy: remedy, code: .output, subdirectories: ["blobs", "blobs/sha256"])
    }

    /// Throws for the first target this process cannot write.
    static func check(_ request: BuildRequest, state: StateDirectory) throws(BuildEngineError) {
        for target in targets(request, state: state) {
            if let (path, err) = problem(target) {
                let what = path == target.path ? "" : " (its nearest existing directory \(path))"
                throw BuildEngineError(
                    target.code,
                    "cannot write the \(target.role) \(target.path)\(what): \(String(cString: strerror(err))); nothing was built: \(target.remedy)"
                )
            }
        }
    }

    /// The directory of `target` that cannot be written and why (errno): the target itself and its existing
    /// subdirectories, or, when it does not exist yet, its nearest existing ancestor (where it will be created).
    static func problem(_ target: Target) -> (String, Int32)? {
        var path = target.path
        var st = stat()
        while lstat(path, &st) != 0 {
            guard errno == ENOENT, path != "/" else { return (path, errno) }
            path = (path as NSString).deletingLastPathComponent
            if path.isEmpty { path = "/" }
        }
        let existing = path == target.path ? [path] + target.subdirectories.map { path + "/" + $0 } : [path]
        for dir in existing {
            if dir != path, lstat(dir, &st) != 0 { continue }
            if let err = unwritable(dir) { return (dir, err) }
        }
        return nil
    }

    /// errno when this process cannot create entries in the directory `dir` (not a directory, a read-only
    /// mount, no write or search permission for the effective ids), else nil.
    static func unwritable(_ dir: String) -> Int32? {
        var st = stat()
        guard stat(dir, &st) == 0 else { return errno }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return ENOTDIR }
        var fs = statvfs()
        if statvfs(dir, &fs) == 0, fs.f_flag & UInt(ST_RDONLY) != 0 { return EROFS }
        return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 ? nil : errno
    }
}
