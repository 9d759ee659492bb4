import COCISys
import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The merged view of a stage mounted: its rootfs with the steps' trees as a read-only overlay at one host path
/// (needs the mount privilege of the build's namespace). For Dockerfile steps that read the whole stage through
/// its own paths (COPY --from globs, users in /etc/passwd, bind-mount sources); the same rules applied in-process
/// to chosen paths are `MergedView` (MergedView.swift).
extension StageRunner {
    /// Runs `body` with the stage's filesystem (rootfs + step trees) visible at one path: a read-only overlay
    /// mount on the host (the trees are overlay upper directories: whiteouts and opaque directories apply).
    func withMergedView<T>(rootfs: String, trees: [String], _ body: (String) throws -> T) throws -> T {
        if trees.isEmpty { return try body(rootfs) }
        let mnt = cache.scratchPath("view")
        if makeDirectory(mnt, 0o755) != 0 {
            throw BuildEngineError(.staging, "cannot create \(mnt): \(String(cString: strerror(errno)))")
        }
        defer { rmdir(mnt) }
        let lowers = (trees.reversed() + [rootfs]).joined(separator: ":")
        var rc = mount("overlay", mnt, "overlay", UInt(MS_RDONLY), "lowerdir=\(lowers),userxattr")
        if rc != 0 { rc = mount("overlay", mnt, "overlay", UInt(MS_RDONLY), "lowerdir=\(lowers)") }
        guard rc == 0 else {
            throw BuildEngineError(
                .staging,
                "cannot mount a read-only view of the stage (overlayfs, \(trees.count + 1) lowers): \(String(cString: strerror(errno)))"
            )
        }
        defer { umount2(mnt, Int32(MNT_DETACH)) }
        return try body(mnt)
    }
}
