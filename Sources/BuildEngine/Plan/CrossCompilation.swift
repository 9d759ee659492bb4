import OCIWriter
import Planner
import Sandbox

/// Cross-compilation of a plan for a foreign platform: when the toolchain builds for another architecture by itself
/// (Go with `CGO_ENABLED=0`: `GOOS`/`GOARCH`; Zig: `-Dtarget`, its own libc for every target), the build stage
/// runs natively on a host-platform base (with the host's toolchain) and the target in its environment, and only
/// the runtime stage is the foreign platform's (the scratch base of a static binary runs no program at all while
/// building). Far faster than emulating the compiler. Rust is not cross-compiled: Debian's rustc needs the target's
/// `libstd-rust-dev:<arch>` and a cross linker (`gcc-aarch64-linux-gnu`) installed by multiarch apt in the build
/// stage, and crates with build scripts or C code need the target's -dev packages too: it is emulated.
enum CrossCompilation {
    /// The toolchains ociforge cross-compiles with.
    enum Compiler: Equatable {
        case go, zig
    }

    /// The compiler `plan` is cross-compiled with for `options.platform`; nil when it is built by emulation (never
    /// for the host's own platform, nor when `options.crossCompile` is off).
    static func compiler(_ plan: ResolvedPlan, _ options: BuildOptions) -> Compiler? {
        guard options.crossCompile, let p = options.platform, !ELFMachine.sameExecutables(p, Platform.host) else {
            return nil
        }
        if plan.providers == ["go"], plan.buildVariables["CGO_ENABLED"] == "0", goArch(p) != nil { return .go }
        if plan.providers == ["zig"], zigTarget(p) != nil,
            plan.toolchains.allSatisfy({ $0.upstream.map { $0.runtime == .none } ?? true }),
            plan.steps.contains(where: { $0.commands.contains { $0.contains("$ZIG_TARGET") } })
        {
            return .zig
        }
        return nil
    }

    static func applies(_ plan: ResolvedPlan, _ options: BuildOptions) -> Bool { compiler(plan, options) != nil }

    /// The build stage's extra environment: the Go target (`GOOS`, `GOARCH`, `GOARM` for arm/v6 and arm/v7), the
    /// Zig one (`ZIG_TARGET`, which the plan's `zig build` passes as `-Dtarget`).
    static func environment(_ plan: ResolvedPlan, _ options: BuildOptions) -> [String: String] {
        guard let compiler = compiler(plan, options), let p = options.platform else { return [:] }
        switch compiler {
        case .go:
            guard let arch = goArch(p) else { return [:] }
            var env = ["GOOS": p.os, "GOARCH": arch]
            if arch == "arm", let v = p.variant, v.hasPrefix("v") { env["GOARM"] = String(v.dropFirst()) }
            return env
        case .zig:
            return zigTarget(p).map { ["ZIG_TARGET": $0] } ?? [:]
        }
    }

    /// Zig's target triple for a Linux platform with glibc (the Debian runtime base's libc): `aarch64-linux-gnu`.
    static func zigTarget(_ p: Platform) -> String? {
        guard p.os == "linux" else { return nil }
        switch (p.architecture, p.variant) {
        case ("amd64", _): return "x86_64-linux-gnu"
        case ("arm64", _): return "aarch64-linux-gnu"
        case ("arm", "v7"?): return "arm-linux-gnueabihf"
        case ("riscv64", _): return "riscv64-linux-gnu"
        default: return nil
        }
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
