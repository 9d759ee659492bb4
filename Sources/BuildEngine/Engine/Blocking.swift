import Foundation
import Synchronization

// The engine runs on a thread of its own, never on the cooperative pool: the async library calls it makes
// (registry I/O, toolchain channels) run as a detached task while the engine's thread waits. One bridge for all.
// The task prefers an executor with a thread of its own, so a caller waiting on a cooperative-pool thread (a
// synchronous test) cannot starve it.

/// The value `body` returns, or the error it throws, once it has run on a detached task.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try blockingResult { () async -> Result<T, any Error> in
        do { return .success(try await body()) } catch { return .failure(error) }
    }.get()
}

/// The value `body` returns once it has run on a detached task on its own thread (typed errors travel inside it as a
/// `Result`).
func blockingResult<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    let executor = DedicatedThreadExecutor()
    defer { executor.finish() }
    Task.detached(executorPreference: executor) {
        let value = await body()
        box.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return box.withLock { $0 }!
}
