import Foundation

/// Blocking work started on a thread of its own beside the caller's, joined with `wait()` (the engine blocks, so
/// the cooperative pool is never used for it).
final class BesideThread<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// Written once by the thread before `done` is signalled; read after `wait()`.
    private var result: Result<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            result = Result { try body() }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// What the body returned or threw, once it has ended.
    func wait() -> Result<T, any Error> {
        done.wait()
        return result!
    }
}
