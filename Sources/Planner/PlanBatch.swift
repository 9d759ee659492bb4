import Foundation

/// One directory's outcome in a batch plan.
public struct BatchPlanResult: Sendable {
    public var directory: String
    public var result: Result<PlanResult, PlannerError>
}

extension Planner {
    /// Plans several app directories in one process (a monorepo's services, a CI job checking many apps): the
    /// per-process start-up (dynamic loading, Swift runtime and Foundation set-up: most of a single `plan`'s time)
    /// is paid once. Same options for every directory; one outcome per directory, in order; a directory that
    /// cannot be planned gets its error and the others are still planned.
    public static func plan(appDirectories: [String], options: PlanOptions) -> [BatchPlanResult] {
        appDirectories.map { dir in
            do throws(PlannerError) {
                return BatchPlanResult(directory: dir, result: .success(try plan(appDirectory: dir, options: options)))
            } catch {
                return BatchPlanResult(directory: dir, result: .failure(error))
            }
        }
    }
}
