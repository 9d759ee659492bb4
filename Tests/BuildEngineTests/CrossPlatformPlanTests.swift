import Foundation
import OCIWriter
import Planner
import Testing
import Toolchains

@testable import BuildEngine

/// How a plan is built for another platform: which compiler cross-compiles (Go, Zig) and with what environment, and
/// for which platform its upstream toolchains are pinned.
@Suite struct CrossPlatformPlanTests {
    static let arm64 = OCIWriter.Platform(architecture: "arm64", os: "linux")
    static let foreign =
        OCIWriter.Platform.host.architecture == "arm64"
        ? OCIWriter.Platform(architecture: "amd64", os: "linux") : arm64

    static func zigPlan() throws -> ResolvedPlan {
        let app = try Scratch("zig-plan")
        defer { app.remove() }
        try app.write(
            "build.zig",
            "const std = @import(\"std\");\npub fn build(b: *std.Build) void {\n"
                + "    const exe = b.addExecutable(.{ .name = \"hello\", .root_source_file = b.path(\"main.zig\"),\n"
                + "        .target = b.standardTargetOptions(.{}) });\n    b.installArtifact(exe);\n}\n")
        try app.write(".zig-version", "0.14.1\n")
        return try Planner.plan(appDirectory: app.path, options: PlanOptions()).plan
    }

    static func options(_ platform: OCIWriter.Platform?, cross: Bool = true) -> BuildOptions {
        var o = BuildOptions(output: .ociLayout(path: "/nonexistent", tag: "v1"))
        o.platform = platform
        o.crossCompile = cross
        return o
    }

    @Test("zig for a foreign platform: the host's zig with ZIG_TARGET, the build stage on the host's base")
    func zigCross() throws {
        let plan = try Self.zigPlan()
        let o = Self.options(Self.foreign)
        #expect(CrossCompilation.compiler(plan, o) == .zig)
        let target = Self.foreign.architecture == "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu"
        #expect(CrossCompilation.environment(plan, o) == ["ZIG_TARGET": target])
        #expect(CrossCompilation.basePlatform(stage: "build", plan, o) == nil, "the host's base compiles")
        #expect(CrossCompilation.basePlatform(stage: "runtime", plan, o) == Self.foreign)
        #expect(CrossCompilation.method(plan, o) == .crossCompiled)
        #expect(try ToolchainResolution.platform(plan, target: nil) == .host, "the host's zig")
        #expect(plan.steps.contains { $0.commands.contains { $0.contains("-Dtarget=$ZIG_TARGET") } })
    }

    @Test("zig is emulated with --no-cross-compile, native for the host, and nothing is set then")
    func zigNotCross() throws {
        let plan = try Self.zigPlan()
        #expect(CrossCompilation.compiler(plan, Self.options(Self.foreign, cross: false)) == nil)
        #expect(CrossCompilation.method(plan, Self.options(Self.foreign, cross: false)) == .emulated)
        #expect(CrossCompilation.environment(plan, Self.options(Self.foreign, cross: false)).isEmpty)
        #expect(CrossCompilation.compiler(plan, Self.options(.host)) == nil)
        #expect(CrossCompilation.method(plan, Self.options(nil)) == .native)
        // A zig whose toolchain the runtime stage needs is not cross-compiled (the runtime stage would need the
        // target's zig).
        var full = plan
        full.toolchains = full.toolchains.map {
            var t = $0
            t.upstream?.runtime = .full
            return t
        }
        #expect(CrossCompilation.compiler(full, Self.options(Self.foreign)) == nil)
    }

    @Test("Zig target triples per platform; none for other systems")
    func zigTargets() {
        #expect(CrossCompilation.zigTarget(Self.arm64) == "aarch64-linux-gnu")
        #expect(
            CrossCompilation.zigTarget(OCIWriter.Platform(architecture: "amd64", os: "linux")) == "x86_64-linux-gnu")
        #expect(
            CrossCompilation.zigTarget(OCIWriter.Platform(architecture: "arm", os: "linux", variant: "v7"))
                == "arm-linux-gnueabihf")
        #expect(CrossCompilation.zigTarget(OCIWriter.Platform(architecture: "arm64", os: "windows")) == nil)
    }

    @Test("a toolchain pinned for amd64 is resolved again for arm64 at its exact version; kept for amd64")
    func pinsPerPlatform() throws {
        var plan = try Self.zigPlan()
        let pin = PlanPin(
            version: "0.14.1", url: "http://127.0.0.1:9/zig/0.14.1/zig-x86_64-linux-0.14.1.tar.xz",
            digest: "sha256:" + String(repeating: "a", count: 64), platform: "linux/amd64")
        let i = try #require(plan.toolchains.firstIndex { $0.name == "zig" })
        plan.toolchains[i].upstream?.constraint = ">=0.14"
        plan.toolchains[i].upstream?.pin = pin
        #expect(ToolchainResolution.toResolve(plan, platform: .linuxAMD64).isEmpty)
        let again = ToolchainResolution.toResolve(plan, platform: .linuxARM64)
        #expect(again.map(\.name) == ["zig"])
        #expect(again.first?.upstream?.constraint == "0.14.1", "the pinned version, not the original request")
        #expect(again.first?.upstream?.pin == nil)
        plan.toolchains[i].upstream?.pin = nil
        #expect(ToolchainResolution.toResolve(plan, platform: .linuxARM64).first?.upstream?.constraint == ">=0.14")
    }

    static func pin(_ platform: String, _ arch: String, _ fill: Character) -> PlanPin {
        PlanPin(
            version: "0.14.1", url: "http://127.0.0.1:9/zig/0.14.1/zig-\(arch)-linux-0.14.1.tar.xz",
            digest: "sha256:" + String(repeating: fill, count: 64), platform: platform)
    }

    /// The zig plan frozen for both platforms: the amd64 pin as the main one, arm64's in `platformPins`.
    static func frozenForBoth() throws -> ResolvedPlan {
        var plan = try zigPlan()
        let i = try #require(plan.toolchains.firstIndex { $0.name == "zig" })
        plan.toolchains[i].upstream?.pin = pin("linux/amd64", "x86_64", "a")
        plan.toolchains[i].upstream?.platformPins = [PlatformPin(pin: pin("linux/arm64", "aarch64", "b"))]
        return plan
    }

    @Test("a plan frozen for two platforms builds each with its own pin; the swap is reversible")
    func frozenForTwoPlatforms() throws {
        let plan = try Self.frozenForBoth()
        let arm = plan.selectingPins(for: "linux/arm64")
        let zig = try #require(arm.toolchains.first { $0.name == "zig" }?.upstream)
        #expect(zig.pin == Self.pin("linux/arm64", "aarch64", "b"))
        #expect(zig.platformPins == [PlatformPin(pin: Self.pin("linux/amd64", "x86_64", "a"))])
        #expect(
            arm.toolchains.first { $0.name == "zig" }?.version == plan.toolchains.first { $0.name == "zig" }?.version)
        #expect(arm.selectingPins(for: "linux/amd64") == plan, "back to the amd64 pin")
        #expect(plan.selectingPins(for: "linux/amd64") == plan)
        for p in [Toolchains.Platform.linuxAMD64, .linuxARM64] {
            #expect(ToolchainResolution.toResolve(plan.selectingPins(for: p.rawValue), platform: p).isEmpty)
        }
    }

    @Test("building a two-platform frozen plan for arm64 reads no index: an unreachable channel is never asked")
    func frozenForTwoPlatformsOffline() throws {
        let plan = try Self.frozenForBoth()
        let offline = ToolchainOptions(mirrors: ["zig": "http://127.0.0.1:9/zig"])
        let arm = try ToolchainResolution.pinBlocking(
            plan, options: offline, stateDirectory: "/nonexistent", platform: .linuxARM64)
        #expect(arm.toolchains.first { $0.name == "zig" }?.upstream?.pin?.platform == "linux/arm64")
        // Frozen for amd64 only: arm64 has to be resolved, and the unreachable channel is named.
        var amd64Only = plan
        amd64Only.toolchains = amd64Only.toolchains.map {
            var t = $0
            t.upstream?.platformPins = nil
            return t
        }
        let error = #expect(throws: BuildEngineError.self) {
            try ToolchainResolution.pinBlocking(
                amd64Only, options: offline, stateDirectory: NSTemporaryDirectory(), platform: .linuxARM64)
        }
        #expect(error?.message.contains("cannot resolve zig 0.14.1") == true, "\(String(describing: error))")
    }

    @Test("kept pins: another platform's pin of the same plan joins platformPins in platform order")
    func keepingPins() throws {
        let both = try Self.frozenForBoth()
        var amdOnly = both
        amdOnly.toolchains = amdOnly.toolchains.map {
            var t = $0
            t.upstream?.platformPins = nil
            return t
        }
        #expect(amdOnly.keepingPins(of: both.selectingPins(for: "linux/arm64")) == both)
        #expect(amdOnly.keepingPins(of: amdOnly) == amdOnly, "the same platform's pin is not kept twice")
    }

    @Test("the platforms to freeze: the host's first, the others in order, each once; the host's for none")
    func freezePlatforms() throws {
        let plan = try Self.zigPlan()
        let amd = OCIWriter.Platform(architecture: "amd64", os: "linux")
        #expect(try ToolchainResolution.platforms(plan, targets: []) == [.host])
        let both = try ToolchainResolution.platforms(plan, targets: [Self.arm64, amd, Self.arm64])
        #expect(both.first == .host)
        #expect(Set(both) == [.linuxAMD64, .linuxARM64] && both.count == 2)
        #expect(
            try ToolchainResolution.platforms(plan, targets: [Self.foreign]) == [
                Toolchains.Platform(ociArchitecture: Self.foreign.architecture)!
            ])
    }

    /// A Cargo app planned with Debian's rustc (no rust-toolchain.toml), with `lock` as its Cargo.lock.
    static func rustPlan(lock: String? = nil, frozen: Bool = false) throws -> ResolvedPlan {
        let app = try Scratch("rust-plan")
        defer { app.remove() }
        try app.write("Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
        try app.write("src/main.rs", "fn main() { println!(\"hi\"); }\n")
        if let lock { try app.write("Cargo.lock", lock) }
        return try
            (frozen
            ? Planner.freeze(appDirectory: app.path, options: PlanOptions())
            : Planner.plan(appDirectory: app.path, options: PlanOptions())).plan
    }

    @Test(
        "Debian's rust for a foreign platform: CARGO_BUILD_TARGET, the cross linker, the target's std at rustc's version"
    )
    func rustCross() throws {
        let plan = try Self.rustPlan(frozen: true)
        let o = Self.options(Self.foreign)
        #expect(CrossCompilation.compiler(plan, o) == .rust)
        let t = try #require(CrossCompilation.rustTarget(Self.foreign))
        let upper = t.triple.uppercased().replacingOccurrences(of: "-", with: "_")
        let env = CrossCompilation.environment(plan, o)
        #expect(env["CARGO_BUILD_TARGET"] == t.triple)
        #expect(env["CARGO_TARGET_\(upper)_LINKER"] == t.gnu + "-gcc")
        #expect(env["CC_" + t.triple.replacingOccurrences(of: "-", with: "_")] == t.gnu + "-gcc")
        #expect(CrossCompilation.basePlatform(stage: "build", plan, o) == nil, "the host's base compiles")
        #expect(CrossCompilation.method(plan, o) == .crossCompiled)
        let setup = try #require(plan.steps.first { $0.aptPackages.contains { $0.hasPrefix("rustc=") } })
        let rustc = try #require(setup.aptPackages.first { $0.hasPrefix("rustc=") })
        let extra = CrossCompilation.aptPackages(for: setup, plan, o)
        #expect(extra.first == "libstd-rust-dev:\(t.debianArch)=" + rustc.dropFirst("rustc=".count), "\(extra)")
        #expect(extra.contains("libc6-dev-\(t.debianArch)-cross") && extra.count == 3, "\(extra)")
        let build = try #require(plan.steps.first { $0.name == "build" })
        #expect(CrossCompilation.aptPackages(for: build, plan, o).isEmpty, "only the step installing rustc")
        #expect(
            build.commands.contains { $0.contains("target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release/hello") })
        #expect(CrossCompilation.aptPackages(for: setup, plan, Self.options(Self.foreign, cross: false)).isEmpty)
        #expect(CrossCompilation.compiler(plan, Self.options(.host)) == nil)
    }

    @Test("Rust is emulated when Cargo.lock has a -sys crate (the target's C library) or rustc is upstream")
    func rustNotCross() throws {
        let sys = try Self.rustPlan(
            lock: "version = 3\n\n[[package]]\nname = \"openssl-sys\"\nversion = \"0.9.0\"\n\n"
                + "[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n")
        #expect(CrossCompilation.compiler(sys, Self.options(Self.foreign)) == nil)
        #expect(sys.steps.contains { $0.commands.contains("cp target/release/hello bin/") })
        var upstream = try Self.rustPlan()
        upstream.toolchains = upstream.toolchains.map {
            var t = $0
            t.source = .upstream
            return t
        }
        #expect(CrossCompilation.compiler(upstream, Self.options(Self.foreign)) == nil)
    }

    @Test("apt packages with a foreign architecture make the script add it to dpkg before apt reads its indexes")
    func foreignArchitectures() {
        #expect(
            ImageBuilder.foreignArchitectures([
                "rustc", "libstd-rust-dev:arm64=1.85", "x:arm64/trixie-backports", "y:any"
            ])
                == ["arm64"])
        let s = ImageBuilder.script(
            apt: ["rustc", "libstd-rust-dev:arm64"], commands: [], workingDirectory: "/app", secrets: [])
        // Before the lists are read (the sources hash names the foreign architecture too).
        let add = s.range(of: "(dpkg --add-architecture arm64 || exit\n")
        let update = s.range(of: "apt-get -q -o Acquire::Retries=3 update")
        #expect(add != nil && update != nil && add!.upperBound < update!.lowerBound, "\(s)")
        #expect(s.contains("dpkg --print-foreign-architectures"))
        #expect(
            !ImageBuilder.script(apt: ["rustc"], commands: [], workingDirectory: "/app", secrets: []).contains(
                "--add-architecture"))
    }

    @Test("toolchains for arm64 and amd64; another platform is refused when the plan needs an upstream toolchain")
    func toolchainPlatform() throws {
        let plan = try Self.zigPlan()
        #expect(try ToolchainResolution.platform(plan, target: Self.arm64) == .linuxARM64)
        let s390x = OCIWriter.Platform(architecture: "s390x", os: "linux")
        let error = #expect(throws: BuildEngineError.self) { try ToolchainResolution.platform(plan, target: s390x) }
        #expect(error?.code == .unsupported)
        #expect(
            error?.message.contains("no upstream zig toolchain for linux/s390x") == true, "\(String(describing: error))"
        )
        var debian = plan
        debian.toolchains = []
        #expect(try ToolchainResolution.platform(debian, target: s390x) == .host, "nothing to install: no refusal")
    }
}
