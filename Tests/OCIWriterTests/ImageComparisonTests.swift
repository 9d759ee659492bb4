import Foundation
import Testing

@testable import OCIWriter

@Suite("Image comparison")
struct ImageComparisonTests {
    @Test("equal layers by digest; differing files named with what differs")
    func compare() throws {
        let dir = try TempDir("image-compare")
        defer { dir.remove() }
        let base: [CraftedEntry] = [.dir("app/"), .file("app/a.txt", "same")]
        var later = CraftedEntry.file("app/b.txt", "one")
        later.mtime = 1
        let first = try LayerFileReaderTests.image(
            [base, [.dir("app/"), .file("app/b.txt", "one"), .file("app/gone.txt", "x")]], dir: dir)
        let second = try LayerFileReaderTests.image(
            [base, [.dir("app/"), later, .file("app/new.txt", "y"), .file("app/c.txt", "2", mode: 0o755)]], dir: dir)
        let c = try ImageComparison.compare(first, second)
        #expect(!c.equal)
        #expect(c.layers.map(\.equal) == [true, false])
        let files = Dictionary(uniqueKeysWithValues: c.layers[1].files.map { ($0.path, $0.what) })
        #expect(files["app/b.txt"] == ["mtime"])
        #expect(files["app/gone.txt"] == ["only-in-first"])
        #expect(files["app/new.txt"] == ["only-in-second"])
        #expect(files["app/c.txt"] == ["only-in-second"])
        #expect(files["app"] == nil)
        let same = try ImageComparison.compare(
            first,
            try LayerFileReaderTests.image(
                [base, [.dir("app/"), .file("app/b.txt", "one"), .file("app/gone.txt", "x")]], dir: dir))
        #expect(same.equal && same.layers.allSatisfy(\.equal))
        // Same entries in another order: the tar stream is named.
        let reordered = try LayerFileReaderTests.image(
            [base, [.file("app/gone.txt", "x"), .dir("app/"), .file("app/b.txt", "one")]], dir: dir)
        #expect(try ImageComparison.compare(first, reordered).layers[1].files.map(\.path) == ["(tar stream)"])
        // Content and mode.
        let changed = try LayerFileReaderTests.image(
            [[.dir("app/"), .file("app/a.txt", "diff", mode: 0o600)]], dir: dir)
        #expect(
            try ImageComparison.compare(first, changed).layers[0].files.first { $0.path == "app/a.txt" }?.what == [
                "mode", "content"
            ])
    }
}
