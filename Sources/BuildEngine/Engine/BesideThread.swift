import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Blocking work started on a thread of its own beside the caller's, joined with `wait()` (the engine blocks, so
/// the cooperative pool is never used for it).
final class BesideThread<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// Written once by the thread before `done` is signalled; read after `wait()`.
    private var result: Result<T, any Error>?

    /// `niceIncrement`: the thread runs that much nicer than the caller (Linux keeps the nice value per thread, and
    /// processes it starts inherit it), so under contention the caller's work goes first.
    init(niceIncrement: Int32 = 0, _ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            if niceIncrement > 0 {
                let which = __priority_which_t(PRIO_PROCESS.rawValue)
                errno = 0
                let current = getpriority(which, 0)
                if errno == 0 { _ = setpriority(which, 0, min(19, current + niceIncrement)) }
            }
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
