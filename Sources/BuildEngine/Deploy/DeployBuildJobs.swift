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
        do { sandbox = try Sandbox.detect() } catch {
            throw DeployBuildError(.build, "the build sandbox is not available", cause: error)
        }
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
        var build = BuildOptions(
            output: .ociLayout(path: options.workDirectory + "/layout-\(p.index)", tag: r.imageTag))
        build.reference = p.reference
        build.noCache = options.noCache
        build.cacheDirectory = options.cacheDirectory
        build.network = options.network
        build.caBundle = options.caBundle
        build.sourceDateEpoch = options.sourceDateEpoch
        build.platforms = options.platforms
        build.crossCompile = options.crossCompile
        build.registryOptions = options.registryOptions
        build.credentials = options.transport.credentials
        build.secrets = r.buildEnvironment.keys.sorted().map { Secret(id: $0, value: r.buildEnvironment[$0]!) }
        build.events = Self.eventLogger(name, quiet: options.quiet, log: options.log)
        if options.debugBuild { options.log(debugText(p)) }
        let report: BuildReport
        do {
            report = try BuildEngine.buildBlocking(
                BuildRequest(
                    source: .app(directory: r.appDirectory, plan: p.result, planOptions: p.planOptions),
                    options: build), runner: sandbox)
        } catch {
            throw DeployBuildError(.build, "build failed", resource: r.label, cause: error)
        }
        // Each resource is staged in its own layout (resources may share an app directory) and pushed from there
        // with `image push`'s transport.
        let started = Date()
        let digest: Digest
        do {
            digest = try options.transport.copyBlocking(
                .ociLayout(path: report.layout, tag: report.tag),
                .registry(try ImageReference(parsing: p.reference)))
        } catch {
            throw DeployBuildError(.push, "push to \(p.reference) failed", resource: r.label, cause: error)
        }
        let pushSeconds = Date().timeIntervalSince(started)
        options.log("[\(name)] pushed \(p.reference)@\(digest) in \(BuildFormat.seconds(pushSeconds))")
        return DeployedResource(
            resource: r, pinned: "\(p.reference)@\(digest)", planStrategy: p.result.plan.strategy.rawValue,
            size: report.imageSize, buildSeconds: report.totalSeconds, pushSeconds: pushSeconds,
            cachedSteps: report.cached.count)
    }

    /// Build events as `[resource] [step] …` lines (phase output unless quiet).
    static func eventLogger(_ name: String, quiet: Bool, log: @escaping @Sendable (String) -> Void)
        -> @Sendable (BuildEvent) -> Void
    {
        { event in
            switch event {
            case .started(let step, let detail): log("[\(name)] [\(step)] \(detail)")
            case .cached(let step): log("[\(name)] [\(step)] cached")
            case .finished(let step, let seconds, let size, _):
                log(
                    "[\(name)] [\(step)] done in \(BuildFormat.seconds(seconds))"
                        + (size.map { ", layer \(BuildFormat.bytes($0))" } ?? ""))
            case .output(let step, let line, _): if !quiet { log("[\(name)] [\(step)] \(line)") }
            case .message(let m), .notice(let m): log("[\(name)] \(m)")
            case .writingLayer, .bytes: break
            }
        }
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
