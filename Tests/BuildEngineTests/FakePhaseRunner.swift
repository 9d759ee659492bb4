import Foundation
import OCIWriter
import Sandbox
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A `PhaseRunner` that starts no namespace: each phase's effect is `effect` writing into a fresh upper directory
/// in this process (or throwing, like a failing command), and the change set is the upper directory's diff against
/// the lowers, as the sandbox computes it. Records every phase it ran, in order.
final class FakePhaseRunner: PhaseRunner {
    let state: StateDirectory
    let identity: SandboxIdentity
    let effect: @Sendable (PhaseSpec, String) throws -> Void
    let ran = Mutex<[PhaseSpec]>([])

    /// The caller's own ids as the namespace's root (what `SandboxIdentity.detect()` gives an unprivileged user
    /// without a subordinate range).
    init(state: String, effect: @escaping @Sendable (PhaseSpec, String) throws -> Void) {
        self.state = StateDirectory(path: state)
        identity = SandboxIdentity(
            kind: .singleID, mapMode: .single,
            uidMap: [.init(containerID: 0, hostID: geteuid(), count: 1)],
            gidMap: [.init(containerID: 0, hostID: getegid(), count: 1)], warning: nil)
        self.effect = effect
    }

    var phases: [String] { ran.withLock { $0.map(\.name) } }

    func with(state: StateDirectory) -> any PhaseRunner { FakePhaseRunner(state: state.path, effect: effect) }

    func run(_ phase: PhaseSpec, base: String, layers: [String], output: OutputSink?) throws -> PhaseOutcome {
        ran.withLock { $0.append(phase) }
        let run = try state.newRun()
        let upper = run.path + "/upper"
        do {
            guard mkdir(upper, 0o755) == 0 else {
                throw SandboxError(.state, "cannot create", errno: errno, detail: upper)
            }
            if case .callback(let emit)? = output { emit("fake phase \(phase.name)", false) }
            try effect(phase, upper)
            let diff = try UpperDiff(upper: upper, lowers: Array(layers.reversed()) + [base]).compute()
            return PhaseOutcome(
                name: phase.name, upper: upper, changes: diff.changes, idMapping: identity.idMapping, run: run)
        } catch {
            run.remove()
            throw error
        }
    }
}

/// A scratch directory removed by `remove()`.
struct Scratch {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/ociforge-engine-\(label)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SandboxError(.state, "mkdtemp failed", errno: errno) }
        path = String(cString: p)
        chmod(path, 0o755)
    }

    func write(_ relative: String, _ text: String, mode: mode_t = 0o644) throws {
        let file = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, mode)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
