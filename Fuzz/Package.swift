// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for ociforge's parsers of untrusted input (issue 16). Built and run by `scripts/fuzz`:
//   swift build --package-path Fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
// Each target is one `LLVMFuzzerTestOneInput` (no `main`: libFuzzer provides it). Not part of scripts/test.
let targets = ["dockerfile", "config", "reference", "auth", "manifest", "tar", "docker-archive"]

let package = Package(
    name: "ociforge-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "ociforge", path: "..")],
    targets: targets.map { name in
        .executableTarget(
            name: "fuzz-" + name,
            dependencies: [
                .product(name: "OCIWriter", package: "ociforge"), .product(name: "Planner", package: "ociforge")
            ],
            path: name,
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        )
    }
)
