import Planner

/// What of a resolved plan this engine cannot build yet, refused before any step runs (never an image whose
/// toolchain is missing): packages from extra apt suites (backports are not enabled in the build stage yet).
enum PlanSupport {
    static func refuseUnbuildable(_ plan: ResolvedPlan) throws(BuildEngineError) {
        if let suite = plan.aptSuites.first {
            throw BuildEngineError(
                .unsupported,
                "the plan needs packages from \(suite), which this build does not enable yet; ask for a version the "
                    + "\(plan.suite) suite itself has (`ociforge plan -f table` lists the toolchains and their sources)"
            )
        }
    }
}
