/// Where toolchains live in an image, and the image environment each needs.
///
/// Prefix: `/opt/ociforge/toolchains/<tool>/<version>` (`version` = the release's version number), and
/// `/opt/ociforge/toolchains/<tool>-runtime/<version>` for the runtime flavor (JRE, .NET runtime).
public enum ToolchainPrefix {
    public static let root = "/opt/ociforge/toolchains"

    public static func path(_ tool: ToolKind, flavor: ToolchainFlavor = .full, version: String) -> String {
        "\(root)/\(tool.rawValue)\(flavor == .runtime ? "-runtime" : "")/\(version)"
    }

    /// Rust's writable cargo home (registry cache, `cargo install` output): outside the toolchain prefix, so the
    /// toolchain layer never changes when cargo writes.
    public static let cargoHome = "/opt/ociforge/cargo"
}

/// The image environment a staged toolchain needs: directories to put in front of `PATH` (in order) and
/// variables to set. Values are fixed strings derived from the prefix only (no host-dependent content).
public struct ToolchainEnvironment: Hashable, Codable, Sendable {
    public var pathEntries: [String]
    /// Sorted by name.
    public var variables: [EnvironmentVariable]

    public init(pathEntries: [String], variables: [EnvironmentVariable]) {
        self.pathEntries = pathEntries
        self.variables = variables.sorted { $0.name < $1.name }
    }

    /// `PATH` with the entries prepended to `existing` (entries already present are not repeated).
    public func path(prependingTo existing: String) -> String {
        let old = existing.split(separator: ":").map(String.init).filter { !pathEntries.contains($0) }
        return (pathEntries + old).joined(separator: ":")
    }

    /// The environment for `tool` installed at `prefix`.
    public static func forTool(_ tool: ToolKind, prefix p: String) -> ToolchainEnvironment {
        switch tool {
        case .node: .init(pathEntries: ["\(p)/bin"], variables: [])
        case .bun: .init(pathEntries: [p], variables: [])
        case .deno: .init(pathEntries: [p], variables: [.init("DENO_NO_UPDATE_CHECK", "1")])
        case .zig, .gleam: .init(pathEntries: [p], variables: [])
        case .dart, .sbt: .init(pathEntries: ["\(p)/bin"], variables: [])
        case .swift: .init(pathEntries: ["\(p)/usr/bin"], variables: [])
        case .python, .ruby: .init(pathEntries: ["\(p)/bin"], variables: [])
        case .go:
            .init(pathEntries: ["\(p)/bin"], variables: [.init("GOROOT", p), .init("GOTOOLCHAIN", "local")])
        case .java:
            .init(pathEntries: ["\(p)/bin"], variables: [.init("JAVA_HOME", p)])
        case .dotnet:
            .init(
                pathEntries: [p],
                variables: [
                    .init("DOTNET_ROOT", p), .init("DOTNET_CLI_TELEMETRY_OPTOUT", "1"),
                    .init("DOTNET_NOLOGO", "1")
                ])
        case .rust:
            .init(
                pathEntries: ["\(p)/bin", "\(ToolchainPrefix.cargoHome)/bin"],
                variables: [.init("CARGO_HOME", ToolchainPrefix.cargoHome)])
        }
    }
}

public struct EnvironmentVariable: Hashable, Codable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
