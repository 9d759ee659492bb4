import OCIWriter
import Planner
import Sandbox

/// Cross-compilation of a plan for a foreign platform: when the toolchain builds for another architecture by itself
/// (Go with `CGO_ENABLED=0`: `GOOS`/`GOARCH`), the build stage runs natively on a host-platform base with the
/// target in its environment, and only the runtime stage is the foreign platform's (the scratch base of a static
/// binary runs no program at all while building). Far faster than emulating the compiler.
enum CrossCompilation {
    /// Whether `plan` is built for `options.platform` by cross-compiling (never for the host's own platform, nor
    /// when `options.crossCompile` is off).
    static func applies(_ plan: ResolvedPlan, _ options: BuildOptions) -> Bool {
        guard options.crossCompile, let p = options.platform, !ELFMachine.sameExecutables(p, Platform.host) else {
            return false
        }
        return plan.providers == ["go"] && plan.buildVariables["CGO_ENABLED"] == "0" && goArch(p) != nil
    }

    /// The build stage's extra environment: the Go target (`GOOS`, `GOARCH`, `GOARM` for arm/v6 and arm/v7).
    static func environment(_ plan: ResolvedPlan, _ options: BuildOptions) -> [String: String] {
        guard applies(plan, options), let p = options.platform, let arch = goArch(p) else { return [:] }
        var env = ["GOOS": p.os, "GOARCH": arch]
        if arch == "arm", let v = p.variant, v.hasPrefix("v") { env["GOARM"] = String(v.dropFirst()) }
        return env
    }

    /// The platform of `stage`'s base: the host's for a cross-compiled build stage, else the target's.
    static func basePlatform(stage: String, _ plan: ResolvedPlan, _ options: BuildOptions) -> Platform? {
        stage == "build" && applies(plan, options) ? nil : options.platform
    }

    /// How the plan is built for `options.platform`.
    static func method(_ plan: ResolvedPlan, _ options: BuildOptions) -> BuildMethod {
        applies(plan, options) ? .crossCompiled : TargetPlatform.method(TargetPlatform.of(options))
    }

    /// Whether a foreign program runs at all: not when the build is cross-compiled onto the scratch base (no runtime
    /// phase runs); the emulation check is skipped then.
    static func needsEmulation(_ plan: ResolvedPlan, _ options: BuildOptions) -> Bool {
        guard applies(plan, options) else { return true }
        let runtime = options.runtimeBase ?? plan.deploy?.base
        return runtime != Debian.staticRuntimeImage
    }

    static func goArch(_ p: Platform) -> String? {
        ["amd64", "arm64", "arm", "386", "riscv64", "ppc64le", "s390x"].contains(p.architecture)
            ? p.architecture : nil
    }
}
