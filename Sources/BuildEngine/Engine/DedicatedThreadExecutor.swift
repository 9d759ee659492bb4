import Foundation
import Synchronization

/// A task executor with a thread of its own, made for one `blocking` call: the body's jobs run on it, so a caller
/// that holds a thread of the cooperative pool while it waits cannot starve the work it waits for.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = Mutex<(jobs: [UnownedJob], finished: Bool)>(([], false))
    private let ready = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in drain() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.jobs.append(unowned) }
        ready.signal()
    }

    /// Lets the thread end once every job enqueued so far has run.
    func finish() {
        queue.withLock { $0.finished = true }
        ready.signal()
    }

    private func drain() {
        while true {
            ready.wait()
            let next: (job: UnownedJob?, stop: Bool) = queue.withLock { q in
                if !q.jobs.isEmpty { return (q.jobs.removeFirst(), false) }
                return (nil, q.finished)
            }
            if let job = next.job { job.runSynchronously(on: asUnownedTaskExecutor()) }
            if next.stop { return }
        }
    }
}
