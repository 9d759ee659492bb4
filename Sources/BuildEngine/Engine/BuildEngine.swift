import Foundation
import OCIWriter
import Planner
import Sandbox

/// The one entry point of the build engine: dispatches on the source (a plan, or a Dockerfile: the app's or one on
/// its own), evaluates a Dockerfile against its base images' configs, runs the steps on `runner` through the layer
/// cache, writes the image and delivers it to the requested output (layout, registry, docker-archive).
public enum BuildEngine {
    /// Builds `request` on a thread of its own (the steps block on the runner, hashing and layer writing).
    public static func build(_ request: BuildRequest, runner: any PhaseRunner) async throws(BuildEngineError)
        -> BuildReport
    {
        let result: Result<BuildReport, BuildEngineError> = await withCheckedContinuation { c in
            Thread {
                do throws(BuildEngineError) {
                    c.resume(returning: .success(try buildBlocking(request, runner: runner)))
                } catch { c.resume(returning: .failure(error)) }
            }.start()
        }
        return try result.get()
    }

    /// `build` on the calling thread (never the cooperative pool: it blocks).
    public static func buildBlocking(_ request: BuildRequest, runner: any PhaseRunner) throws(BuildEngineError)
        -> BuildReport
    {
        let started = Date()
        try WritableOutputs.check(request, state: runner.state)
        try refuseUnsignableOutput(request.options)
        do {
            for warning in try runner.preflight() { request.options.events(.notice("warning: \(warning)")) }
        } catch {
            throw BuildEngineError.wrapping(error)
        }
        var report: BuildReport
        let inputs: BuildInputs?
        do {
            if request.options.platforms.count > 1 {
                report = try MultiPlatformBuild.build(request, runner: runner)
                inputs = nil
            } else {
                var one = request
                if let p = request.options.platforms.first ?? request.options.platform {
                    one = MultiPlatformBuild.forPlatform(request, p)
                }
                try TargetPlatform.requireRunnable(one)
                (report, inputs) = try image(one, runner: runner)
                if let p = one.options.platform {
                    report.platforms = [PlatformBuild(p, method: TargetPlatform.method(one), report: report)]
                }
            }
        } catch {
            throw BuildEngineError.wrapping(error)
        }
        // A multi-platform build attached each platform's attestations as it built it (`MultiPlatformBuild`).
        if let inputs { try attest(&report, inputs: inputs, options: request.options) }
        try deliver(&report, options: request.options)
        try publishAttestations(&report, options: request.options)
        try signLayout(&report, options: request.options)
        report.totalSeconds = Date().timeIntervalSince(started)
        return report
    }

    /// Builds the image into the destination layout, through the registry caches when the options name any
    /// (their steps written to `--cache-to` once the image is built; what went wrong there is a warning).
    static func image(_ request: BuildRequest, runner: any PhaseRunner) throws -> (BuildReport, BuildInputs) {
        var options = request.options
        guard !options.registryCache.isEmpty else { return try image(request, options: options, runner: runner) }
        let events = options.events
        let session = RegistryCache(
            options: options.registryCache,
            transport: ImageTransport(
                options: options.registryOptions, credentials: options.credentials,
                report: { events(.message("[cache] \($0)")) }),
            notice: { events(.notice("[cache] \($0)")) })
        options.registryCacheSession = session
        var mounts: CacheMountTransfer?
        if case .app(_, let result, _) = request.source, result.plan.strategy == .plan,
            !options.registryCache.mounts.isEmpty
        {
            mounts = CacheMountTransfer(
                session: session, runner: runner, plan: result.plan, sourceDateEpoch: options.sourceDateEpoch)
            mounts?.importAll()
        }
        var (report, inputs) = try image(request, options: options, runner: runner)
        session.export(finalLayers: Set(report.layers.map(\.digest)))
        if !options.registryCache.exportTo.isEmpty { mounts?.exportAll() }
        report.warnings += session.warnings
        return (report, inputs)
    }

    /// Builds the image into the destination layout with `options`; returns the report and what the build consumed.
    static func image(_ request: BuildRequest, options: BuildOptions, runner: any PhaseRunner) throws
        -> (BuildReport, BuildInputs)
    {
        let destination = request.destination(), directory = request.directory
        switch request.source {
        case .app(_, let result, let planOptions):
            guard result.plan.strategy == .dockerfile else {
                let plan = try ToolchainResolution.pinBlocking(
                    result.plan, options: options.toolchains, stateDirectory: runner.state.path,
                    platform: ToolchainResolution.platform(
                        result.plan,
                        target: CrossCompilation.basePlatform(stage: "build", result.plan, options)))
                let (report, buildStagePackages) = try ImageBuilder(
                    plan: plan, appDirectory: directory, options: options, target: destination, sandbox: runner
                ).buildReportingStage()
                let files = plan.context.files.filter { !$0.hasPrefix(".ociforge/") && $0 != ".ociforge" }
                return (
                    report,
                    BuildInputs(
                        plan: plan, directory: directory, files: files, buildStagePackages: buildStagePackages)
                )
            }
            let plan = result.plan
            try refusePlanOnlyOptions(options, dockerfile: plan.dockerfile?.path ?? "Dockerfile")
            let resolved =
                try result.dockerfile
                ?? Planner.resolveDockerfile(appDirectory: directory, plan: plan, options: planOptions)
            let context = directory + "/" + (plan.dockerfile?.context ?? ".")
            let executor = try DockerfileExecutor(
                build: resolved, contextDirectory: context, options: options, target: destination,
                sandbox: runner)
            let evaluated = try executor.evaluatingBases { configs in
                var again = planOptions
                again.baseImages = configs
                return try Planner.resolveDockerfile(appDirectory: directory, plan: plan, options: again)
            }
            let inputs = BuildInputs(
                plan: plan, dockerfile: evaluated.build,
                dockerfilePath: directory + "/" + (plan.dockerfile?.path ?? "Dockerfile"),
                directory: BuildRequest.absolute(context), files: evaluated.build.contextFiles)
            return (try evaluated.run(), inputs)
        case .dockerfile(let path, let context, let dockerfileOptions):
            try refusePlanOnlyOptions(options, dockerfile: path)
            let resolve = { (o: DockerfileOptions) throws(PlannerError) -> ResolvedDockerfile in
                try Dockerfile.resolve(path: path, display: path, context: context, contextDisplay: context, options: o)
            }
            let executor = try DockerfileExecutor(
                build: try resolve(dockerfileOptions), contextDirectory: directory, options: options,
                target: destination, sandbox: runner)
            let evaluated = try executor.evaluatingBases { configs in
                var again = dockerfileOptions
                again.baseImages = configs
                return try resolve(again)
            }
            let inputs = BuildInputs(
                dockerfile: evaluated.build, dockerfilePath: BuildRequest.absolute(path), directory: directory,
                files: evaluated.build.contextFiles)
            return (try evaluated.run(), inputs)
        }
    }

    /// `--base` / `--runtime-base` choose a plan's images (a Dockerfile names its own in FROM), and
    /// `--sbom-build-stage` describes a plan's build stage.
    static func refusePlanOnlyOptions(_ options: BuildOptions, dockerfile: String) throws(BuildEngineError) {
        if options.attestations.buildStageSBOM {
            throw BuildEngineError(
                .unsupported,
                "--sbom-build-stage describes a build plan's build stage, but this image is built from \(dockerfile), whose stages are its own: drop --sbom-build-stage (the image's SBOM is attached), or build with --strategy plan"
            )
        }
        for (flag, value) in [("--base", options.base), ("--runtime-base", options.runtimeBase)] where value != nil {
            throw BuildEngineError(
                .unsupported,
                "\(flag) chooses an image of a build plan, but this image is built from \(dockerfile), whose FROM lines name its bases: drop \(flag), change FROM (a build arg such as `FROM ${BASE}` with --build-arg), or build with --strategy plan"
            )
        }
    }

    /// Sends the image from the destination layout to a registry or docker-archive output (a layout output is
    /// already in place).
    static func deliver(_ report: inout BuildReport, options: BuildOptions) throws(BuildEngineError) {
        guard let output = options.output else { return }
        if case .ociLayout = output { return }
        let events = options.events
        let transport = ImageTransport(
            options: options.registryOptions, credentials: options.credentials,
            report: { events(.message($0)) })
        let started = Date()
        events(.message("sending the image to \(output)"))
        let digest: Digest
        do {
            digest = try transport.copyBlocking(.ociLayout(path: report.layout, tag: report.tag), output)
        } catch {
            throw BuildEngineError(
                .output,
                "the image was built into oci-layout:\(report.layout):\(report.tag) but could not be sent to \(output)",
                cause: error)
        }
        events(.message("sent \(digest) to \(output) in \(BuildFormat.seconds(Date().timeIntervalSince(started)))"))
        report.output = output.description
        report.deliveredDigest = digest
    }
}
