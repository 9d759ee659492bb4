/// What the build engine needs from the sandbox: run one phase on a base rootfs and overlay lowers, and the state
/// directory and id mapping that phase runs with. `Sandbox` is the namespace implementation; tests drive the
/// engine in-process with their own.
public protocol PhaseRunner: Sendable {
    /// Where bases, caches and run directories live.
    var state: StateDirectory { get }
    /// Namespace ids → host ids: owners of staged trees and of the files in a phase's upper directory.
    var identity: SandboxIdentity { get }
    /// Runs `phase` on `base` plus `layers` (overlay lowers, bottom first). Blocking. Throws a `SandboxError`
    /// with `.commandFailed` / `.timedOut` when the command does not succeed.
    func run(_ phase: PhaseSpec, base: String, layers: [String], output: OutputSink?) throws -> PhaseOutcome
    /// The same runner with another state directory (`verify-rebuild` runs in a fresh one).
    func with(state: StateDirectory) -> any PhaseRunner
    /// Probes what phases need before any work: throws naming every missing piece; returns warnings for degraded
    /// ones. Called by the engine once the outputs are known to be writable.
    func preflight() throws -> [String]
}

extension PhaseRunner {
    /// Nothing to probe (in-process runners).
    public func preflight() throws -> [String] { [] }
}

extension Sandbox: PhaseRunner {
    public func with(state: StateDirectory) -> any PhaseRunner { Sandbox(state: state, identity: identity) }
}
