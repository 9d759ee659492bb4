// swift-tools-version:6.0
import PackageDescription

// Dependencies are chosen for clean-build cost (CI builds from a fresh clone every run):
// - swift-argument-parser: the CLI.
// - TOMLKit: nixpacks.toml / ociforge.toml (syntax errors with line and column).
// - Yams: YAML config and Procfile parsing with positions.
// Hashing uses the system's OpenSSL libcrypto (SHA-NI, same speed as swift-crypto, no BoringSSL build);
// compression uses the system's zlib, ISA-L and zstd; HTTP uses the system's libcurl (easy API, no Swift wrapper).
let package = Package(
    name: "ociforge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ociforge", targets: ["ociforge"]),
        .library(name: "OCIWriter", targets: ["OCIWriter"]),
        .library(name: "Planner", targets: ["Planner"]),
        .library(name: "Sandbox", targets: ["Sandbox"]),
        .library(name: "BuildEngine", targets: ["BuildEngine"]),
        .library(name: "Toolchains", targets: ["Toolchains"]),
        .library(name: "SupplyChain", targets: ["SupplyChain"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2")
    ],
    targets: [
        // System libraries (Debian -dev packages; scripts/install-deps installs them).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Registry HTTP: libcurl's easy API directly (see README, "HTTP client").
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // NaCl secretbox for sigstore/cosign encrypted private keys (OpenSSL has no XSalsa20-Poly1305).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // Linux syscalls Swift cannot call directly (variadic syscall(), _GNU_SOURCE-only APIs).
        .target(name: "COCISys"),
        // Single-threaded namespace/mount setup that must run before exec, outside the Swift runtime.
        .target(name: "CSandbox"),

        .target(
            name: "OCIWriter",
            dependencies: ["CZlib", "CArchive", "CISAL", "CZstd", "CCrypto", "CCurl", "COCISys"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "Planner",
            dependencies: [
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Yams", package: "Yams")
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Upstream toolchain release channels: index parsing, verified downloads, host cache, staging trees.
        .target(
            name: "Toolchains",
            dependencies: ["OCIWriter", "CArchive", "CCrypto"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The namespace executor: launcher, identity, rootless re-execution, state directory, upper-dir diff.
        .target(
            name: "Sandbox",
            dependencies: ["OCIWriter", "CSandbox", "COCISys"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The build engine: plan and Dockerfile front ends over one stage runner, cache, staging and bases; it
        // attaches the build's SBOM and provenance (SupplyChain) and signs what it pushes.
        .target(
            name: "BuildEngine",
            dependencies: ["OCIWriter", "Planner", "Sandbox", "SupplyChain", "Toolchains", "COCISys"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Signing keys and sigstore signatures, SBOMs and provenance: built on OCIWriter, kept out of it so the
        // image format/transport module does not carry libsodium or SBOM formats.
        .target(
            name: "SupplyChain",
            dependencies: ["OCIWriter", "CCrypto", "CSodium"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ociforge",
            dependencies: [
                "OCIWriter", "Planner", "Sandbox", "BuildEngine", "SupplyChain",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),

        .testTarget(
            name: "OCIWriterTests", dependencies: ["OCIWriter", "COCISys"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "PlannerTests", dependencies: ["Planner"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "ToolchainsTests", dependencies: ["Toolchains", "OCIWriter", "Planner", "BuildEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "SandboxTests", dependencies: ["Sandbox", "BuildEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        // The engine with a fake PhaseRunner: in-process, no namespaces.
        .testTarget(
            name: "BuildEngineTests", dependencies: ["BuildEngine", "OCIWriter", "Planner", "Sandbox", "SupplyChain"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "SupplyChainTests", dependencies: ["SupplyChain", "OCIWriter"],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        // Drives the built `ociforge` binary and real peers (skopeo, umoci, oci-image-tool, podman, registry).
        .testTarget(
            name: "IntegrationTests", dependencies: ["OCIWriter", "COCISys", "BuildEngine", "ociforge"],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
