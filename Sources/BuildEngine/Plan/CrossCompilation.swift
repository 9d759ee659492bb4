import OCIWriter
import Planner
import Sandbox

/// Cross-compilation of a plan for a foreign platform: when the toolchain builds for another architecture by itself
/// (Go with `CGO_ENABLED=0`: `GOOS`/`GOARCH`; Zig: `-Dtarget`, its own libc for every target; Debian's Rust with
/// the target's standard library and a cross linker), the build stage runs natively on a host-platform base (with
/// the host's toolchain) and the target in its environment, and only the runtime stage is the foreign platform's
/// (the scratch base of a static binary runs no program at all while building). Far faster than emulating the
/// compiler. Rust: the setup step also installs `libstd-rust-dev:<arch>` (multiarch, the same version as rustc),
/// `gcc-<triple>` and `libc6-dev-<arch>-cross`; apps whose Cargo.lock has `*-sys` crates (C libraries of the
/// target) and upstream (rustup-channel) Rust are emulated.
enum CrossCompilation {
    /// The toolchains ociforge cross-compiles with.
    enum Compiler: Equatable {
        case go, zig, rust
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
        if plan.providers == ["rust"], rustTarget(p) != nil,
            plan.toolchains.contains(where: { $0.name == "rust" && $0.source == .debian }),
            plan.steps.contains(where: { $0.commands.contains { $0.contains("$CARGO_BUILD_TARGET") } })
        {
            return .rust
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
        case .rust:
            guard let t = rustTarget(p) else { return [:] }
            let upper = t.triple.uppercased().replacingOccurrences(of: "-", with: "_")
            let lower = t.triple.replacingOccurrences(of: "-", with: "_")
            return [
                "CARGO_BUILD_TARGET": t.triple, "CARGO_TARGET_\(upper)_LINKER": t.gnu + "-gcc",
                "CC_\(lower)": t.gnu + "-gcc", "AR_\(lower)": t.gnu + "-ar"
            ]
        }
    }

    /// A Rust target for a Linux platform: the triple, the GNU prefix of Debian's cross gcc, Debian's architecture.
    struct RustTarget: Equatable {
        var triple: String
        var gnu: String
        var debianArch: String

        /// Debian's cross gcc for the target (`gcc-aarch64-linux-gnu`, `gcc-x86-64-linux-gnu`).
        var gccPackage: String { "gcc-" + gnu.replacingOccurrences(of: "_", with: "-") }
    }

    /// amd64 and arm64 (the architectures Debian builds cross compilers and `*-cross` libcs for, both ways).
    static func rustTarget(_ p: Platform) -> RustTarget? {
        guard p.os == "linux" else { return nil }
        switch p.architecture {
        case "amd64":
            return RustTarget(triple: "x86_64-unknown-linux-gnu", gnu: "x86_64-linux-gnu", debianArch: "amd64")
        case "arm64":
            return RustTarget(triple: "aarch64-unknown-linux-gnu", gnu: "aarch64-linux-gnu", debianArch: "arm64")
        default: return nil
        }
    }

    /// What `step` installs besides its own packages when Rust is cross-compiled: the target's standard library at
    /// rustc's exact version and suite (`libstd-rust-dev:arm64=<v>`, `…:arm64/trixie-backports`), the cross gcc and
    /// the target's libc. Only for the step that installs rustc; nothing otherwise.
    static func aptPackages(for step: Step, _ plan: ResolvedPlan, _ options: BuildOptions) -> [String] {
        guard compiler(plan, options) == .rust, let p = options.platform, let t = rustTarget(p),
            let rustc = step.aptPackages.first(where: {
                $0 == "rustc" || $0.hasPrefix("rustc=") || $0.hasPrefix("rustc/")
            })
        else { return [] }
        let qualifier = rustc.dropFirst("rustc".count)
        return [
            "libstd-rust-dev:\(t.debianArch)\(qualifier)", t.gccPackage,
            "libc6-dev-\(t.debianArch)-cross"
        ]
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
