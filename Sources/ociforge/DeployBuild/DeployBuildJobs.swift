// MOVE: see DeployBuildTypes.swift.
import Foundation
import OCIWriter
import Planner
import Sandbox

/// Bounded parallel build + push of the planned resources. After the first failure no further resource starts;
/// the running ones finish, and the first failure (in resource order) is thrown.
extension DeployBuildRunner {
    final class JobState: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var failed = false
        private(set) var results: [Result<DeployedResource, any Error>?]
        init(count: Int) { results = Array(repeating: nil, count: count) }

        func take() -> Int? {
            lock.withLock {
                guard !failed, next < results.count else { return nil }
                next += 1
                return next - 1
            }
        }

        func finish(_ i: Int, _ r: Result<DeployedResource, any Error>) {
            lock.withLock {
                results[i] = r
                if case .failure = r { failed = true }
            }
        }
    }

    func buildAll(_ planned: [Planned]) throws -> [DeployedResource] {
        guard !planned.isEmpty else { return [] }
        let sandbox: Sandbox
        do { sandbox = try Sandbox.detect() } catch { throw DeployBuildError(.build, "the build sandbox is not available", cause: error) }
        let state = JobState(count: planned.count)
        let workers = max(1, min(options.jobs, planned.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = state.take() {
                let p = planned[i]
                let outcome = Result { try buildAndPush(p, sandbox: sandbox) }
                if case .failure(let e) = outcome { options.log("error: \(e)") }
                state.finish(i, outcome)
            }
        }
        var out: [DeployedResource] = []
        for r in state.results {
            guard let r else { continue }
            out.append(try r.get())
        }
        return out
    }

    func buildAndPush(_ p: Planned, sandbox: Sandbox) throws -> DeployedResource {
        let r = p.resource
        let name = r.name ?? "resource \(p.index + 1)"
        let log = options.log
        var build = BuildOptions(layoutPath: options.workDirectory + "/layout-\(p.index)", tag: r.imageTag, reference: p.reference)
        build.noCache = options.noCache
        build.cacheDirectory = options.cacheDirectory
        build.network = options.network
        build.caBundle = options.caBundle
        build.sourceDateEpoch = options.sourceDateEpoch
        build.registryOptions = options.registryOptions
        build.secrets = r.buildEnvironment.keys.sorted().map { Secret(id: $0, value: r.buildEnvironment[$0]!) }
        build.progress = { log("[\(name)] \($0)") }
        let quiet = options.quiet
        build.phaseOutput = { @Sendable line, _ in if !quiet { log("[\(name)] \(line)") } }
        if options.debugBuild { log(debugText(p)) }
        let report: BuildReport
        do { report = try runBuild(p, build: build, sandbox: sandbox) } catch {
            throw DeployBuildError(.build, "build failed", resource: r.label, cause: error)
        }
        let started = Date()
        let digest: Digest
        do { digest = try options.push(report.layout, report.tag, p.reference) } catch {
            throw DeployBuildError(.push, "push to \(p.reference) failed", resource: r.label, cause: error)
        }
        let pushSeconds = Date().timeIntervalSince(started)
        log("[\(name)] pushed \(p.reference)@\(digest) in \(String(format: "%.1f", pushSeconds)) s")
        return DeployedResource(resource: r, pinned: "\(p.reference)@\(digest)", planStrategy: p.result.plan.strategy.rawValue,
                                size: report.imageSize, buildSeconds: report.totalSeconds, pushSeconds: pushSeconds,
                                cachedSteps: report.cached.count)
    }

    /// The plan strategy runs `ImageBuilder`; the Dockerfile strategy `DockerfileExecutor` (as `ociforge build`).
    func runBuild(_ p: Planned, build: BuildOptions, sandbox: Sandbox) throws -> BuildReport {
        let plan = p.result.plan
        let dir = p.resource.appDirectory
        guard plan.strategy == .dockerfile else {
            return try ImageBuilder(plan: plan, appDirectory: dir, options: build, sandbox: sandbox).build()
        }
        let options = p.planOptions
        let resolved = try p.result.dockerfile ?? Planner.resolveDockerfile(appDirectory: dir, plan: plan, options: options)
        let context = dir + "/" + (plan.dockerfile?.context ?? ".")
        let executor = try DockerfileExecutor(build: resolved, contextDirectory: context, options: build, sandbox: sandbox)
        return try executor.evaluatingBases { configs in
            var again = options
            again.baseImages = configs
            return try Planner.resolveDockerfile(appDirectory: dir, plan: plan, options: again)
        }.run()
    }

    /// `--debug-build`: the resolved plan and each phase's generated script.
    func debugText(_ p: Planned) -> String {
        var s = "# \(p.resource.label): plan (\(p.result.plan.strategy.rawValue))\n" + PlanRenderer.json(p.result.plan)
        for step in p.result.plan.steps {
            s += "# \(p.resource.label): phase \(step.name)\n" + ImageBuilder.debugScript(step: step)
        }
        return s
    }
}
