import Foundation

/// Runs blocking file work (unpacking, hashing) on its own thread, off the cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws(ToolchainError) -> T)
        async throws(ToolchainError) -> T
    {
        let result: Result<T, ToolchainError> = await withCheckedContinuation { cont in
            let t = Thread {
                do throws(ToolchainError) { cont.resume(returning: .success(try work())) } catch {
                    cont.resume(returning: .failure(error))
                }
            }
            t.name = "ociforge-toolchain"
            t.start()
        }
        return try result.get()
    }
}
