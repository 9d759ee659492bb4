import Foundation

/// Runs an async operation from the engine's blocking build thread (never the cooperative pool, which the wait
/// would starve): the work runs in a task, this thread waits for its result.
enum AwaitBlocking {
    private final class Box<T>: @unchecked Sendable {
        var value: T?
    }

    /// The value `work` returns (errors travel inside it as a `Result`).
    static func result<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = await work()
            done.signal()
        }
        done.wait()
        return box.value!
    }
}
