/// A Linux platform a toolchain is installed for, with each channel's spelling of it.
public enum Platform: String, CaseIterable, Codable, Sendable, Comparable {
    case linuxAMD64 = "linux/amd64"
    case linuxARM64 = "linux/arm64"

    public static func < (a: Platform, b: Platform) -> Bool { a.rawValue < b.rawValue }

    /// From an OCI architecture name (`amd64`, `arm64`) on Linux; nil for others.
    public init?(ociArchitecture: String) {
        switch ociArchitecture {
        case "amd64": self = .linuxAMD64
        case "arm64": self = .linuxARM64
        default: return nil
        }
    }

    /// The platform of the running process (the host builds for itself).
    public static var host: Platform {
        #if arch(arm64)
            .linuxARM64
        #else
            .linuxAMD64
        #endif
    }

    public var ociArchitecture: String { self == .linuxAMD64 ? "amd64" : "arm64" }

    /// `x86_64` / `aarch64` (Rust, Deno, python-build-standalone triples; Zig).
    public var gnuArch: String { self == .linuxAMD64 ? "x86_64" : "aarch64" }

    /// The GNU target triple: `x86_64-unknown-linux-gnu`.
    public var gnuTriple: String { "\(gnuArch)-unknown-linux-gnu" }

    /// Node's `files[]` / tarball naming: `linux-x64`, `linux-arm64`.
    public var node: String { self == .linuxAMD64 ? "linux-x64" : "linux-arm64" }

    /// Go's `os`/`arch` fields: `amd64`, `arm64`.
    public var goArch: String { ociArchitecture }

    /// Zig index keys: `x86_64-linux`, `aarch64-linux`.
    public var zig: String { "\(gnuArch)-linux" }

    /// Temurin API `architecture`: `x64`, `aarch64`.
    public var adoptium: String { self == .linuxAMD64 ? "x64" : "aarch64" }

    /// .NET runtime identifier: `linux-x64`, `linux-arm64`.
    public var dotnetRID: String { node }

    /// Bun asset base name: `bun-linux-x64`, `bun-linux-aarch64`.
    public var bunAsset: String { self == .linuxAMD64 ? "bun-linux-x64" : "bun-linux-aarch64" }
}
