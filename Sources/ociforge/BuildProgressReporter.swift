import BuildEngine
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Turns build events into what stderr shows: plain lines (`elapsed [stage] phase: …`, phase output prefixed with
/// `[stage/phase]`), or on a terminal the same permanent lines plus one live status line per running step (step,
/// elapsed, bytes written to its layer / pulled, its last output line) redrawn in place; with `quiet`, only
/// notices. The caller writes what `write` receives to the terminal and calls `tick()` periodically (terminal mode)
/// to refresh elapsed times and byte counts.
public final class BuildProgressReporter: Sendable {
    public enum Mode: Sendable, Hashable {
        case plain
        /// A terminal `width` columns wide (status lines are cut to fit, so they never wrap).
        case terminal(width: Int)
        case quiet
    }

    struct Running {
        var step: String
        var detail: String
        var started: Double
        var file: String?
        var bytes: Int64 = 0
        var lastLine: String = ""
    }

    struct State {
        var running: [Running] = []
        /// Status lines currently drawn below the permanent output (terminal mode).
        var drawn = 0
        var frame = 0
    }

    public let mode: Mode
    let start: Double
    let clock: @Sendable () -> Double
    let write: @Sendable (String) -> Void
    let fileSize: @Sendable (String) -> Int64?
    let state = Mutex(State())

    /// `clock` returns seconds (monotonic); `fileSize` reads a layer file's size (injectable for tests).
    public init(
        mode: Mode, clock: @escaping @Sendable () -> Double = BuildProgressReporter.monotonicSeconds,
        fileSize: @escaping @Sendable (String) -> Int64? = BuildProgressReporter.sizeOfFile,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.mode = mode
        self.clock = clock
        self.write = write
        self.fileSize = fileSize
        self.start = clock()
    }

    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func sizeOfFile(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// The plain line for an event (nil for events that only feed the status line).
    public static func plainLine(_ event: BuildEvent) -> String? {
        switch event {
        case .started(let step, let detail): return "\(label(step)): \(detail)"
        case .cached(let step): return "\(label(step)): cached"
        case .finished(let step, let seconds, let size, let usize):
            let layer =
                size.map { ", layer \(BuildFormat.bytes($0)) (\(BuildFormat.bytes(usize ?? 0)) uncompressed)" }
                ?? ", no changes"
            return "\(label(step)): done in \(BuildFormat.seconds(seconds))\(layer)"
        case .message(let s), .notice(let s): return s
        case .output, .writingLayer, .bytes: return nil
        }
    }

    /// `build/install` → `[build] install`.
    static func label(_ step: String) -> String {
        guard let slash = step.firstIndex(of: "/") else { return "[\(step)]" }
        return "[\(step[..<slash])] \(step[step.index(after: slash)...])"
    }

    public func handle(_ event: BuildEvent) {
        let now = clock()
        state.withLock { s in
            var out = ""
            switch event {
            case .started(let step, let detail):
                s.running.removeAll { $0.step == step }
                s.running.append(Running(step: step, detail: detail, started: now))
            case .writingLayer(let step, let file):
                if let i = s.running.firstIndex(where: { $0.step == step }) { s.running[i].file = file }
            case .bytes(let step, let count):
                if let i = s.running.firstIndex(where: { $0.step == step }) { s.running[i].bytes = count }
            case .output(let step, let line, _):
                if let i = s.running.firstIndex(where: { $0.step == step }) { s.running[i].lastLine = line }
            case .finished(let step, _, _, _), .cached(let step):
                s.running.removeAll { $0.step == step }
            case .message, .notice: break
            }
            var permanent = permanentLines(event, now: now)
            if case .terminal = mode, case .started = event { permanent = [] }  // the status line shows it
            switch mode {
            case .quiet:
                if case .notice = event { out = permanent.map { $0 + "\n" }.joined() }
            case .plain:
                out = permanent.map { $0 + "\n" }.joined()
            case .terminal(let width):
                let statusChanged: Bool
                switch event {
                case .started, .finished, .cached: statusChanged = true
                default: statusChanged = false
                }
                if !permanent.isEmpty || statusChanged {
                    // Permanent lines are written whole (long ones may wrap: they end with a newline, so
                    // the status lines below them are still erased correctly); only status lines are cut.
                    out = clear(&s) + permanent.map { $0 + "\n" }.joined() + draw(&s, now: now, width: width)
                }
            }
            // Written under the lock: a tick and an event never interleave their erase/redraw sequences.
            if !out.isEmpty { write(out) }
        }
    }

    /// Terminal mode: redraws the status lines (elapsed time, bytes written so far).
    public func tick() {
        guard case .terminal(let width) = mode else { return }
        let now = clock()
        state.withLock { s in
            guard !s.running.isEmpty || s.drawn > 0 else { return }
            for i in s.running.indices {
                if let f = s.running[i].file, let n = fileSize(f) { s.running[i].bytes = n }
            }
            s.frame += 1
            write(clear(&s) + draw(&s, now: now, width: width))
        }
    }

    /// Removes the status lines (before the final summary).
    public func finish() {
        guard case .terminal = mode else { return }
        state.withLock { s in
            s.running.removeAll()
            let out = clear(&s)
            if !out.isEmpty { write(out) }
        }
    }

    func permanentLines(_ event: BuildEvent, now: Double) -> [String] {
        let stamp = String(format: "%6.1fs", now - start)
        switch event {
        case .output(let step, let line, _): return ["[\(step)] \(line)"]
        case .writingLayer, .bytes: return []
        default:
            guard let line = Self.plainLine(event) else { return [] }
            if case .terminal = mode { return ["\u{1B}[1m\(stamp) \(line)\u{1B}[0m"] }
            return ["\(stamp) \(line)"]
        }
    }

    /// Moves the cursor up over the drawn status lines and erases them.
    func clear(_ s: inout State) -> String {
        guard s.drawn > 0 else { return "" }
        var out = "\r\u{1B}[K"
        for _ in 1..<s.drawn { out += "\u{1B}[1A\r\u{1B}[K" }
        s.drawn = 0
        return out
    }

    static let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    /// One status line per running step, the last one without a newline (the cursor stays on it).
    func draw(_ s: inout State, now: Double, width: Int) -> String {
        guard !s.running.isEmpty else { return "" }
        let lines = s.running.map { r -> String in
            var line =
                "\(Self.spinner[s.frame % Self.spinner.count]) \(Self.label(r.step)) \(String(format: "%.1fs", now - r.started))"
            if r.bytes > 0 { line += " " + BuildFormat.bytes(r.bytes) }
            let tail = r.lastLine.trimmingCharacters(in: .whitespaces)
            line += tail.isEmpty ? " " + r.detail : " │ " + tail
            return Self.fit(line, width: width)
        }
        s.drawn = lines.count
        return lines.joined(separator: "\n")
    }

    /// Cuts a line to `width - 1` visible characters (escape sequences do not count) so it never wraps.
    static func fit(_ line: String, width: Int) -> String {
        let limit = max(width - 1, 10)
        let clean = line.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\r", with: "")
        var visible = 0, inEscape = false
        for ch in clean {
            if inEscape {
                if ch.isLetter { inEscape = false }
            } else if ch == "\u{1B}" {
                inEscape = true
            } else {
                visible += 1
            }
        }
        guard visible > limit else { return clean }
        var out = ""
        visible = 0
        inEscape = false
        for ch in clean {
            if inEscape {
                out.append(ch)
                if ch.isLetter { inEscape = false }
                continue
            }
            if ch == "\u{1B}" {
                inEscape = true
                out.append(ch)
                continue
            }
            if visible == limit - 1 { break }
            out.append(ch)
            visible += 1
        }
        out += "…"
        if clean.contains("\u{1B}") { out += "\u{1B}[0m" }
        return out
    }
}
