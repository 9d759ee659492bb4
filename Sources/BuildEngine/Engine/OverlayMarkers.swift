import COCISys
import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// A layer's whiteouts and opaque markers written into an unpacked tree the way overlayfs reads them in a lower
/// directory (the extractor drops them: in a fresh directory there is nothing below to remove).
enum OverlayMarkers {
    static let whiteoutPrefix = ".wh."
    static let opaqueName = ".wh..wh..opq"

    /// Reads the layer's entries and writes each whiteout and opaque marker into `tree`.
    static func write(layer: String, into tree: String) throws {
        for entry in try LayerListing.entries(ofLayer: layer, hashContents: false) {
            var path = entry.path
            while path.hasPrefix("./") { path.removeFirst(2) }
            while path.hasPrefix("/") { path.removeFirst() }
            let name = (path as NSString).lastPathComponent
            guard name.hasPrefix(whiteoutPrefix) else { continue }
            let parent = tree + "/" + (path as NSString).deletingLastPathComponent
            if name == opaqueName {
                try setXattr(parent, "user.overlay.opaque", "y")
            } else if !name.hasPrefix(whiteoutPrefix + whiteoutPrefix) {
                try whiteout(parent + "/" + String(name.dropFirst(whiteoutPrefix.count)), parent: parent)
            }
        }
    }

    /// A whiteout at `path`: a 0/0 character device (needs CAP_MKNOD), else the xattr form overlayfs accepts
    /// in lowers since Linux 6.7 (an empty file marked `user.overlay.whiteout`, its directory `user.overlay.opaque=x`
    /// unless it is already opaque).
    static func whiteout(_ path: String, parent: String) throws {
        if mknod(path, S_IFCHR | 0o000, 0) == 0 { return }
        guard errno == EPERM else { throw failure("cannot create the whiteout", path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o000)
        guard fd >= 0 else { throw failure("cannot create the whiteout", path) }
        close(fd)
        try setXattr(path, "user.overlay.whiteout", "")
        var v = [UInt8](repeating: 0, count: 4)
        let n = try inDirectory(of: parent) { ocisys_lgetxattr_at($0, $1, "user.overlay.opaque", &v, v.count) }
        if n != 1 || v[0] != UInt8(ascii: "y") { try setXattr(parent, "user.overlay.opaque", "x") }
    }

    /// Sets the xattr on the entry at `path` itself (never through a symlink).
    static func setXattr(_ path: String, _ name: String, _ value: String) throws {
        let bytes = Array(value.utf8)
        let r = try inDirectory(of: path) { Int(ocisys_lsetxattr_at($0, $1, name, bytes, bytes.count)) }
        if r != 0 { throw failure("cannot set \(name) on", path) }
    }

    /// `body(directory fd, name)` for the entry at `path`.
    static func inDirectory(of path: String, _ body: (Int32, String) -> Int) throws -> Int {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open the directory of", path) }
        defer { close(fd) }
        return body(fd, (path as NSString).lastPathComponent)
    }

    static func failure(_ what: String, _ path: String) -> BuildEngineError {
        BuildEngineError(.cache, "\(what) \(path)", cause: BuildCache.systemError())
    }
}
