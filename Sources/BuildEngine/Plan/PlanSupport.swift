import Planner

/// What of a resolved plan this engine cannot build yet, refused before any step runs (never an image whose
/// toolchain is missing): upstream toolchains (the Toolchains module lists, verifies and stages them, but the
/// engine does not yet install them as a layer). Packages from extra apt suites (backports) are built: the build
/// stage enables those suites (AptSuitesLayer.swift).
enum PlanSupport {
    static func refuseUnbuildable(_ plan: ResolvedPlan) throws(BuildEngineError) {
        if let t = plan.toolchains.first(where: { $0.source == .upstream }) {
            let asked = t.request.map { " (\($0.constraint) from \($0))" } ?? ""
            throw BuildEngineError(
                .unsupported,
                "the plan takes \(t.name)\(asked) from its upstream release channel, which this build cannot "
                    + "install yet; use the Debian package instead with `[toolchains.\(t.name)] source = \"debian\"` "
                    + "in ociforge.toml (or OCIFORGE_TOOLCHAIN_\(t.name.uppercased())_SOURCE=debian) and a version "
                    + "the suite has (`ociforge plan -f table` shows it), or build from a Dockerfile")
        }
    }
}
