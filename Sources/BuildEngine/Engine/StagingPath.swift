import Foundation

/// Path helpers of staged trees.
enum StagingPath {
    /// `p` made relative and normalised: `.`, empty components and `..` removed (`..` never climbs above the root).
    static func clean(_ p: String) -> String {
        var out: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." || c.isEmpty { continue }
            if c == ".." {
                if !out.isEmpty { out.removeLast() }
                continue
            }
            out.append(c)
        }
        return out.joined(separator: "/")
    }
}
