import Foundation
import Planner
import Sandbox
import Toolchains

/// The build stage as built: its rootfs, the layer stack, how deep the stack was after each step (what a
/// deploy input copies from), and the environment its upstream toolchains give the steps.
struct BuildStage {
    var rootfs: String
    var stack: [StageLayer]
    var stepDepth: [String: Int] = [:]
    var toolchainEnvironment = ToolchainEnvironment(pathEntries: [], variables: [])
}

extension ImageBuilder {
    /// Base (`rootfs`, the build image's), static assets, the upstream toolchain layers, then each step (its local
    /// inputs copied first).
    func buildStage(files: [String], rootfs: String, rec: Recorder) throws -> BuildStage {
        let buildImage = options.base ?? plan.buildImage
        var stage = BuildStage(
            rootfs: rootfs, stack: [try baseItem(rootfs: rootfs, name: buildImage, stage: "build", rec: rec)])
        if let item = try aptSuitesItem(rootfs: rootfs, parent: stage.stack[0], rec: rec) {
            stage.stack.append(item)
        }
        if !plan.staticAssets.isEmpty {
            stage.stack.append(try assetsItem(parent: stage.stack.last!, rec: rec, stage: "build"))
        }
        for layer in try toolchainLayers(stage: "build", parent: stage.stack.last!, rec: rec) {
            stage.stack.append(layer.item)
            stage.toolchainEnvironment = stage.toolchainEnvironment.adding(layer.environment)
        }
        var paths: [String] = []
        for step in plan.steps {
            for input in step.inputs where input.local {
                stage.stack.append(
                    try copyItem(
                        files: select(files, input), parent: stage.stack.last!, rec: rec, stage: "build",
                        label: "\(step.name)-inputs"))
            }
            paths = step.paths + paths
            let hasWork = !step.aptPackages.isEmpty || !step.commands.isEmpty
            guard hasWork else {
                rec.timings.append(PhaseTiming(stage: "build", phase: step.name, status: .skipped, seconds: 0))
                stage.stepDepth[step.name] = stage.stack.count
                continue
            }
            let item = try phaseItem(
                stage: "build", phase: step.name,
                apt: step.aptPackages + CrossCompilation.aptPackages(for: step, plan, options), commands: step.commands,
                env: stepEnvironment(paths: paths, toolchains: stage.toolchainEnvironment),
                caches: try cacheMounts(step), rootfs: rootfs, stack: stage.stack, rec: rec)
            if item.layer != nil { stage.stack.append(item) }
            stage.stepDepth[step.name] = stage.stack.count
        }
        return stage
    }

    /// A build step's variables: the toolchains' own (unless the plan sets them), the plan's, and PATH (the steps'
    /// paths, then the toolchains', then the default).
    func stepEnvironment(paths: [String], toolchains: ToolchainEnvironment) -> [String: String] {
        var env = plan.buildVariables.merging(CrossCompilation.environment(plan, options)) { $1 }
        for v in toolchains.variables where env[v.name] == nil { env[v.name] = v.value }
        env["PATH"] = (paths + toolchains.pathEntries + [Self.defaultPath]).joined(separator: ":")
        env["HOME"] = env["HOME"] ?? "/root"
        if let e = options.sourceDateEpoch { env["SOURCE_DATE_EPOCH"] = String(e) }
        return env
    }

    /// The step's cache mounts as the plan defines them.
    func cacheMounts(_ step: Step) throws -> [CacheMount] {
        try step.caches.map { name -> CacheMount in
            guard let c = plan.caches[name] else {
                throw BuildEngineError(
                    .invalidInput, "step '\(step.name)' names cache '\(name)', which the plan does not define")
            }
            return CacheMount(name: name, target: c.directory)
        }
    }
}

extension ToolchainEnvironment {
    /// This environment followed by `other`'s PATH entries and variables (an earlier variable wins).
    func adding(_ other: ToolchainEnvironment) -> ToolchainEnvironment {
        let names = Set(variables.map(\.name))
        return ToolchainEnvironment(
            pathEntries: pathEntries + other.pathEntries.filter { !pathEntries.contains($0) },
            variables: variables + other.variables.filter { !names.contains($0.name) })
    }
}
