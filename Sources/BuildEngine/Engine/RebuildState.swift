import Foundation
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The state `verify-rebuild` runs in: a new, empty state directory (no layer cache, no unpacked bases, no cache
/// mounts such as apt archives or pip/go caches, no pulled registry bases), seeded only with inputs that are named
/// by their content and whose bytes the comparison checks anyway:
/// - the Debian base tarballs (`bases/debian-*.tar`, hard links): each is the output of one mmdebstrap recipe
///   (suite, variant, packages, mirror publication date, SOURCE_DATE_EPOCH) and never changes once renamed into
///   place; the rebuilt image's base layer is built from it again and compared byte for byte with the original's,
///   so a different tarball shows up as a differing layer. Without them each rebuild would rerun mmdebstrap.
/// - the toolchain archive cache (`toolchains/blobs/sha256/<hex>`, read where it is): an archive is used only
///   when its sha256 is the digest the recorded plan pins.
/// Everything else (unpacking, every build step, downloads into cache mounts) happens again.
struct RebuildState {
    /// The fresh state directory.
    var state: StateDirectory
    /// The state whose toolchain archive cache the rebuild reads.
    var toolchainArchives: String
    /// What was taken from the original state, relative to it (for the report).
    var reused: [String]

    /// A fresh state directory at `path` (which must not exist), seeded from `original`.
    static func fresh(at path: String, from original: StateDirectory) throws(BuildEngineError) -> RebuildState {
        var state = StateDirectory(path: path, extractionLimits: original.extractionLimits)
        do { try state.prepare() } catch {
            throw BuildEngineError(
                .cache, "cannot create the fresh state directory \(path) for the rebuild", cause: error)
        }
        state.extractionLimits = original.extractionLimits
        var reused: [String] = []
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: original.bases)) ?? []).sorted()
        for name in names where name.hasPrefix("debian-") && name.hasSuffix(".tar") && !name.contains(".tmp-") {
            // Same file system (the fresh state lives in a run directory of the original): a hard link, no copy.
            // A base that cannot be linked is assembled again with mmdebstrap: slower, never weaker.
            if link(original.bases + "/" + name, state.bases + "/" + name) == 0 { reused.append("bases/" + name) }
        }
        reused.append("toolchains/blobs (archives used only at their pinned sha256)")
        return RebuildState(state: state, toolchainArchives: original.path, reused: reused)
    }
}
