// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "hello",
    targets: [
        .executableTarget(name: "hello", path: "Sources/app"),
    ]
)
