/// Which part of a toolchain a release installs.
///
/// `runtime` exists where the channel publishes a smaller runtime-only build, for runtime images:
/// - java: the Temurin JRE (`image_type=jre`) instead of the JDK;
/// - dotnet: the ASP.NET Core runtime tarball (`aspnetcore-runtime`), which also carries the base .NET runtime,
///   so it runs console and web apps alike; its version is the runtime version (`8.0.11`), not the SDK's.
/// Other tools have no separate runtime build (`ToolKind.hasRuntimeFlavor` is false): their runtime is `full`.
public enum ToolchainFlavor: String, Hashable, Codable, Sendable {
    case full
    case runtime
}

extension ToolKind {
    public var hasRuntimeFlavor: Bool { self == .java || self == .dotnet }
}
