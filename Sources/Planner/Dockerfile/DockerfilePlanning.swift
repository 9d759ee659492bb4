import Foundation

/// The Dockerfile strategy inside the Planner: `Planner.plan` resolves the Dockerfile (so a broken Dockerfile
/// fails at plan time with file:line) and maps onto `ResolvedPlan` what fits it — the Dockerfile reference with
/// the merged args and target, the secret ids the RUN steps mount (with the config's `secrets`), and the cache
/// mounts as `caches`. The stages themselves are `PlanResult.dockerfile` (`ResolvedDockerfile`).
extension Planner {
    /// Resolves the Dockerfile a plan names (e.g. a frozen plan, which stores only the reference). `options`
    /// adds `--build-arg`s over the plan's args and may override the target, platform and base image configs.
    public static func resolveDockerfile(appDirectory: String, plan: ResolvedPlan, options: PlanOptions = PlanOptions())
        throws(PlannerError) -> ResolvedDockerfile
    {
        guard plan.strategy == .dockerfile, let d = plan.dockerfile else {
            throw PlannerError(.invalidValue, "the plan does not use the dockerfile strategy", key: "strategy")
        }
        let root =
            appDirectory.count > 1 && appDirectory.hasSuffix("/") ? String(appDirectory.dropLast()) : appDirectory
        var args = d.args
        for (k, v) in options.buildArgs { args[k] = v }
        var o = DockerfileOptions()
        o.buildArgs = args
        o.target = options.target ?? d.target
        if let p = options.platform { o.platform = p }
        o.baseImages = options.baseImages
        return try Dockerfile.resolve(
            path: root + "/" + d.path, display: d.path, context: d.context == "." ? root : root + "/" + d.context,
            contextDisplay: d.context, options: o)
    }

    /// Cache mounts of the kept stages as plan caches: named after the cache id, `locked` for locked and
    /// private sharing (exclusive use), `shared` otherwise.
    public static func planCaches(_ build: ResolvedDockerfile) -> [String: Cache] {
        var caches: [String: Cache] = [:]
        for stage in build.stages {
            for step in stage.steps {
                for m in step.run?.mounts ?? [] where m.type == .cache {
                    let name = PlanSession.cacheName(m.id ?? m.target)
                    caches[name.isEmpty ? "root" : name] = Cache(
                        directory: m.target, sharing: m.sharing == .shared ? .shared : .locked)
                }
            }
        }
        return caches
    }
}

extension PlanSession {
    /// The Dockerfile path relative to the app directory: `-f` (relative to the context) or `docker.dockerfile`.
    func dockerfilePath() -> String {
        let context = ociforge.docker?.context ?? "."
        let file = options.dockerfile ?? ociforge.docker?.dockerfile ?? "Dockerfile"
        return context == "." ? file : "\(context)/\(file)"
    }

    mutating func dockerfilePlan() throws(PlannerError) -> PlanResult {
        let contextRel = ociforge.docker?.context ?? "."
        let path = dockerfilePath()
        var args = ociforge.docker?.args ?? [:]
        for (k, v) in options.buildArgs { args[k] = v }
        var o = DockerfileOptions()
        o.buildArgs = args
        o.target = options.target
        if let p = options.platform { o.platform = p }
        o.baseImages = options.baseImages
        let resolved = try Dockerfile.resolve(
            path: root + "/" + path, display: path, context: contextRel == "." ? root : root + "/" + contextRel,
            contextDisplay: contextRel, options: o)
        warnings += resolved.warnings.map { PlannerWarning($0) }
        let plan = ResolvedPlan(
            strategy: .dockerfile,
            dockerfile: DockerfileBuild(path: path, context: contextRel, args: args, target: options.target),
            providers: [], suite: Debian.suite, buildImage: "", toolchains: [], buildVariables: [:],
            secrets: Array(Set((ociforge.secrets ?? []) + resolved.secrets)).sorted(), staticAssets: [:],
            caches: Planner.planCaches(resolved), steps: [], deploy: nil,
            context: try buildContext(), image: imageTarget(), frozen: false)
        return PlanResult(plan: plan, warnings: warnings, detected: [], dockerfile: resolved)
    }
}
