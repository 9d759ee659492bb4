/// Name rules for toolchain archive entries and symlink targets (all checks are lexical; the unpacker also never
/// writes through a symlink, so a lexically contained tree is contained on disk).
enum ArchivePath {
    /// The components of an entry name: a leading `./` is dropped; empty names, absolute names, `..` components
    /// and NUL bytes are refused (nil).
    static func components(_ name: String) -> [String]? {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.utf8.contains(0) else { return nil }
        var out: [String] = []
        for c in name.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { return nil }
            out.append(String(c))
        }
        return out
    }

    /// Whether a symlink at `entry` (components from the tree root) with `target` stays inside the tree:
    /// the target must be relative, consist of leading `..` components followed by plain names only, and go up
    /// no further than the symlink's own directory depth. (Each link then resolves inside the tree by itself,
    /// so chains of links do too.)
    static func symlinkStaysInside(entry: [String], target: String) -> Bool {
        guard !target.isEmpty, !target.hasPrefix("/"), !target.utf8.contains(0) else { return false }
        var ups = 0
        var descended = false
        for c in target.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." {
                if descended { return false }
                ups += 1
            } else {
                descended = true
            }
        }
        return ups <= entry.count - 1
    }
}
