import BuildEngine
import Foundation
import Synchronization
import Testing

@testable import ociforge

/// `BuildProgressReporter`: plain lines, the terminal status line (fake clock, fake width, fake layer sizes) and
/// `--quiet`.
@Suite struct BuildProgressTests {
    /// A reporter whose clock, layer file sizes and output are under the test's control.
    final class Harness: Sendable {
        let now = Mutex(100.0)
        let sizes = Mutex<[String: Int64]>([:])
        let written = Mutex<[String]>([])
        var text: String { written.withLock { $0.joined() } }

        func reporter(_ mode: BuildProgressReporter.Mode) -> BuildProgressReporter {
            BuildProgressReporter(
                mode: mode, clock: { self.now.withLock { $0 } },
                fileSize: { f in self.sizes.withLock { $0[f] } },
                write: { s in self.written.withLock { $0.append(s) } })
        }
        func advance(_ s: Double) { now.withLock { $0 += s } }
    }

    static let events: [BuildEvent] = [
        .message("[build] base debian:bookworm ready in 3.0 s"),
        .cached(step: "build/base"),
        .started(step: "build/install", detail: "running apt-get install 2 packages, 1 command"),
        .output(step: "build/install", line: "Setting up python3 ...", isError: false),
        .writingLayer(step: "build/install", file: "/tmp/layer-1"),
        .finished(step: "build/install", seconds: 12.25, layerSize: 3 << 20, uncompressedSize: 9 << 20),
        .started(step: "build/build", detail: "running 1 command"),
        .finished(step: "build/build", seconds: 0.5, layerSize: nil, uncompressedSize: nil),
        .notice("[build] cache entry 0123456789abcdef is unusable (layer blob: truncated): rebuilding it")
    ]

    @Test func plainLinesWithElapsedTimeAndPhaseOutput() {
        let h = Harness()
        let r = h.reporter(.plain)
        for e in Self.events {
            h.advance(1.5)
            r.handle(e)
        }
        r.tick()
        r.finish()
        #expect(
            h.text == """
                   1.5s [build] base debian:bookworm ready in 3.0 s
                   3.0s [build] base: cached
                   4.5s [build] install: running apt-get install 2 packages, 1 command
                [build/install] Setting up python3 ...
                   9.0s [build] install: done in 12.2 s, layer 3.0 MiB (9.0 MiB uncompressed)
                  10.5s [build] build: running 1 command
                  12.0s [build] build: done in 0.5 s, no changes
                  13.5s [build] cache entry 0123456789abcdef is unusable (layer blob: truncated): rebuilding it

                """)
        #expect(!h.text.contains("\u{1B}"), "no escape sequences when stderr is not a terminal")
    }

    @Test func quietShowsOnlyNotices() {
        let h = Harness()
        let r = h.reporter(.quiet)
        for e in Self.events { r.handle(e) }
        r.tick()
        r.finish()
        #expect(
            h.text
                == "   0.0s [build] cache entry 0123456789abcdef is unusable (layer blob: truncated): rebuilding it\n")
    }

    @Test func terminalStatusLineIsRedrawnInPlace() throws {
        let h = Harness()
        let r = h.reporter(.terminal(width: 60))
        r.handle(.started(step: "build/install", detail: "running 1 command"))
        // Starting draws the status line (no newline: the cursor stays on it); no permanent line for a start.
        #expect(h.text.hasSuffix("[build] install 0.0s running 1 command"))
        #expect(!h.text.contains("\n"))
        h.written.withLock { $0 = [] }

        h.advance(2.0)
        r.tick()
        // A tick erases the line and draws it again with the new elapsed time.
        #expect(h.text.hasPrefix("\r\u{1B}[K"))
        #expect(h.text.hasSuffix("[build] install 2.0s running 1 command"))
        h.written.withLock { $0 = [] }

        // Output goes above the status line, which then shows the last output line (cut to the width).
        r.handle(.output(step: "build/install", line: String(repeating: "x", count: 100), isError: false))
        let lines = h.text.components(separatedBy: "\n")
        #expect(lines.count == 2)
        #expect(
            lines[0] == "\r\u{1B}[K[build/install] " + String(repeating: "x", count: 100),
            "output lines are written whole")
        #expect(lines[1].hasPrefix("⠙ [build] install 2.0s │ xxx"))
        #expect(lines[1].count == 59, "cut to width - 1 so it never wraps: \(lines[1])")
        h.written.withLock { $0 = [] }

        // Writing the layer: the layer file's size is shown as it grows.
        r.handle(.writingLayer(step: "build/install", file: "/tmp/l"))
        h.sizes.withLock { $0["/tmp/l"] = 5 << 20 }
        h.advance(1.0)
        r.tick()
        #expect(h.text.contains("[build] install 3.0s 5.0 MiB │ xxx"), "\(h.text)")
        h.written.withLock { $0 = [] }

        // Finishing replaces the status line with a permanent (bold) line; nothing is left drawn.
        r.handle(.finished(step: "build/install", seconds: 3.0, layerSize: 6 << 20, uncompressedSize: 20 << 20))
        #expect(
            h.text
                == "\r\u{1B}[K\u{1B}[1m   3.0s [build] install: done in 3.0 s, layer 6.0 MiB (20.0 MiB uncompressed)\u{1B}[0m\n"
        )
        h.written.withLock { $0 = [] }
        r.tick()
        #expect(h.text.isEmpty, "nothing running, nothing drawn: a tick writes nothing")
    }

    @Test func terminalClearsEveryStatusLineAndFinishErasesThem() {
        let h = Harness()
        let r = h.reporter(.terminal(width: 80))
        r.handle(.started(step: "build/a", detail: "running 1 command"))
        r.handle(.started(step: "runtime/b", detail: "writing the layer"))
        h.written.withLock { $0 = [] }
        r.tick()
        // Two status lines: erase the bottom one, go up one and erase it, then draw both.
        #expect(h.text.hasPrefix("\r\u{1B}[K\u{1B}[1A\r\u{1B}[K"))
        #expect(h.text.components(separatedBy: "\n").count == 2)
        h.written.withLock { $0 = [] }
        r.finish()
        #expect(h.text == "\r\u{1B}[K\u{1B}[1A\r\u{1B}[K")
    }

    @Test func fitCountsVisibleCharactersOnly() {
        #expect(BuildProgressReporter.fit("short", width: 80) == "short")
        #expect(BuildProgressReporter.fit("a\tb", width: 80) == "a b")
        let bold = "\u{1B}[1m" + String(repeating: "y", count: 30) + "\u{1B}[0m"
        #expect(BuildProgressReporter.fit(bold, width: 40) == bold)
        #expect(
            BuildProgressReporter.fit(bold, width: 21) == "\u{1B}[1m" + String(repeating: "y", count: 19) + "…\u{1B}[0m"
        )
    }
}
