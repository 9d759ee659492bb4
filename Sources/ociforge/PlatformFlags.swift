import ArgumentParser
import OCIWriter

/// `--platform` / `--no-cross-compile` of `build` and `deploy-build`: the images' platforms and whether a foreign
/// platform's build stage may be cross-compiled.
struct PlatformFlags: ParsableArguments {
    @Option(
        name: .customLong("platform"),
        help:
            "os/arch[/variant][,…]: the image's platform (default: the host's); several build one image each into one OCI index (deploy-build: one index per resource). Another architecture runs under qemu emulation (`ociforge emulators enable`)."
    )
    var platform: String?

    @Flag(
        name: .customLong("no-cross-compile"),
        help: "Emulate every step of a foreign platform, even where the toolchain could cross-compile (Go, Zig).")
    var noCrossCompile = false

    /// The parsed `--platform` list (empty: the host's).
    func platforms() throws -> [Platform] { try platform.map(parsePlatforms) ?? [] }
}
