import Foundation

/// One phase of `ProviderOutput.recipe`: its commands, cache directories and, for the install phase, the app files
/// it reads (nil: all of them).
struct RecipeStep {
    var cmds: [String]
    var caches: [String]? = nil
    var inputs: [String]? = nil
}

extension ProviderOutput {
    /// The usual provider output: `setup` installs the toolchains (and `setupExtra` packages), then an optional
    /// `install` of the dependencies, then an optional `build` (after install when there is one, else after setup),
    /// then `start`; the runtime image keeps `deploy` (default: all of /app) and gets `runtimePackages`.
    static func recipe(
        _ toolchains: [Toolchain], setupExtra: [String] = [], variables: [String: String]? = nil,
        install: RecipeStep? = nil, build: RecipeStep? = nil, start: StartConfig, deploy: [String]? = nil,
        runtimePackages: [String] = []
    ) -> ProviderOutput {
        var out = ProviderOutput()
        out.toolchains = toolchains
        var phases = ["setup": setupPhase(toolchains, extra: setupExtra)]
        if let install {
            phases["install"] = PhaseConfig(dependsOn: ["setup"], cmds: install.cmds, cacheDirectories: install.caches)
            if let inputs = install.inputs { out.phaseInputs["install"] = inputs }
        }
        if let build {
            phases["build"] = PhaseConfig(
                dependsOn: [install == nil ? "setup" : "install"], cmds: build.cmds, cacheDirectories: build.caches)
        }
        out.plan = BuildPlanConfig(variables: variables, phases: phases, start: start)
        if let deploy { out.deployInclude = deploy }
        out.runtimePackages = runtimePackages
        return out
    }
}
