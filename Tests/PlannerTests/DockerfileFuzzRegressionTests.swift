import Foundation
import Testing

@testable import Planner

/// Inputs that crashed or stalled the `dockerfile` fuzz target (scripts/fuzz): Fixtures/fuzz-regressions/dockerfile/*,
/// parsed and resolved the way the target does; and the pattern automaton behind `${VAR#…}`/`${VAR/…}` checked
/// against the backtracking matcher it replaced.
@Suite struct DockerfileFuzzRegressionTests {
    static let root = FuzzRegressionInputs.directory("dockerfile")

    @Test func regressionInputsResolveOrFailWithoutStalling() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root).sorted()
        #expect(!names.isEmpty)
        let context = NSTemporaryDirectory() + "/ociforge-df-regress-\(getpid())"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: context) }
        for name in names {
            let bytes = try #require(FileManager.default.contents(atPath: Self.root + "/" + name))
            let path = context + "/Dockerfile"
            #expect(FileManager.default.createFile(atPath: path, contents: bytes))
            if let text = String(data: bytes, encoding: .utf8) { _ = try? DockerfileParser.parse(text, file: name) }
            var options = DockerfileOptions()
            options.buildArgs = ["VERSION": "1.2", "BASE": "debian:bookworm"]
            _ = try? Dockerfile.resolve(path: path, display: name, context: context, options: options)
        }
    }

    /// The stalled input's substitution on its own: a 1000-character value trimmed by a 60-token pattern.
    @Test func longValueTrimsAndReplaces() throws {
        let value = String(repeating: "M", count: 500) + "/" + String(repeating: "\u{0}", count: 500) + ".tar.gz"
        let env = ["FILE": value]
        let pattern = String(repeating: "?", count: 40) + "a.tx" + String(repeating: "?", count: 7) + "*."
        #expect(try DockerfileWords().word("${FILE%%\(pattern)}", env) == value)
        #expect(try DockerfileWords().word("${FILE##*.}", env) == "gz")
        #expect(try DockerfileWords().word("${FILE%%/*}", env) == String(repeating: "M", count: 500))
        #expect(try DockerfileWords().word("${FILE//M/m}", env).hasPrefix(String(repeating: "m", count: 500) + "/"))
    }

    /// Random small patterns and values over a few characters: every prefix and suffix answer of the automaton is
    /// the backtracking matcher's (`DockerfileGlob.match` without `/` special), and so are trim and replace.
    @Test func automatonAgreesWithBacktrackingMatcher() {
        var rng = SplitMix(seed: 0x5EED)
        let alphabet: [Character] = ["a", "b", "/", ".", "*", "?", "[", "]", "-", "!", "^", "\\"]
        for _ in 0..<3000 {
            let pattern = String((0..<rng.next(8)).map { _ in alphabet[rng.next(alphabet.count)] })
            let value = String((0..<rng.next(10)).map { _ in alphabet[rng.next(4)] })
            let v = Array(value)
            let compiled = ShellPattern(pattern)
            let prefixes = compiled.prefixMatches(v)
            let suffixes = compiled.reversed.prefixMatches(v.reversed())
            for n in 0...v.count {
                let p = DockerfileGlob.match(pattern, String(v[0..<n]), slashSpecial: false)
                let s = DockerfileGlob.match(pattern, String(v[(v.count - n)...]), slashSpecial: false)
                #expect(prefixes[n] == p, "prefix \(n) of '\(value)' with '\(pattern)'")
                #expect(suffixes[n] == s, "suffix \(n) of '\(value)' with '\(pattern)'")
            }
        }
    }

    /// A deterministic generator (the test must not depend on the run).
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }
}
