/// `sha256sum`-style checksum files: `SHASUMS256.txt` (Node, Bun), `SHA256SUMS` (python-build-standalone),
/// `<asset>.sha256sum` (Deno).
enum ChecksumFile {
    /// The checksum for `fileName`: the line `<hex> [ *]<name>` whose name (or its last path component) is
    /// `fileName`, or — for a file whose only content is one digest (optionally followed by a name) — that digest.
    static func lookup(_ text: String, fileName: String, algorithm: ChecksumAlgorithm) -> Checksum? {
        var entries: [(hex: String, name: String?)] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let parts = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = parts.first, Checksum(algorithm, hex: first) != nil else { continue }
            var name = parts.count > 1 ? parts[1] : nil
            if name?.hasPrefix("*") == true { name?.removeFirst() }
            entries.append((first, name))
        }
        for e in entries {
            guard let n = e.name else { continue }
            if n == fileName || n.split(separator: "/").last.map(String.init) == fileName {
                return Checksum(algorithm, hex: e.hex)
            }
        }
        if entries.count == 1 { return Checksum(algorithm, hex: entries[0].hex) }
        return nil
    }
}
