import Foundation
import Planner
import Toolchains

/// Where the engine downloads upstream toolchains from: channel base URLs by endpoint key (`node`, `deno-index`,
/// …). Precedence (highest first): `mirrors` (`--toolchain-mirror key=url`), the environment's
/// `OCIFORGE_TOOLCHAINS_<KEY>_URL`, the plan's `[toolchains.mirrors]`, then a tool's own `[toolchains.<tool>]
/// mirror` (every endpoint of its channel: index, checksums and downloads), then the channel's upstream site.
public struct ToolchainOptions: Sendable {
    /// `--toolchain-mirror key=url` (repeatable).
    public var mirrors: [String: String] = [:]
    /// The variables `OCIFORGE_TOOLCHAINS_<KEY>_URL` are read from (the process environment in the CLI).
    public var environment: [String: String] = [:]
    /// The host cache of verified archives (`<dir>/toolchains/…`); nil: the sandbox's state directory.
    public var stateDirectory: String?
    /// `--toolchain-keyring tool=file` (repeatable): OpenPGP keyrings for signed-only channels (swift).
    public var keyrings: [String: String] = [:]

    public init(mirrors: [String: String] = [:], environment: [String: String] = [:]) {
        self.mirrors = mirrors
        self.environment = environment
    }

    /// The channel settings for `plan`, every layer of settings applied; a malformed URL or an unknown key fails
    /// naming the setting.
    func channelSettings(for plan: ResolvedPlan) throws(BuildEngineError) -> ChannelSettings {
        do {
            var table = plan.toolchainMirrors ?? [:]
            for t in plan.toolchains {
                guard let mirror = t.upstream?.mirror, let kind = ToolKind(rawValue: t.name) else { continue }
                for e in kind.endpoints where table[e.rawValue] == nil { table[e.rawValue] = mirror }
            }
            var settings = try ChannelSettings(mirrors: table, environment: environment)
            for (key, value) in mirrors.sorted(by: { $0.key < $1.key }) {
                guard let endpoint = ChannelEndpoint(rawValue: key) else {
                    let known = ChannelEndpoint.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ToolchainError(
                        .invalidSetting, "--toolchain-mirror \(key): unknown channel (known: \(known))")
                }
                settings[endpoint] = try ChannelSettings.parseBase(value, endpoint: endpoint)
            }
            return settings
        } catch {
            throw BuildEngineError(.invalidInput, "toolchain mirror settings", cause: error)
        }
    }

    /// The keyring per tool: `--toolchain-keyring`, else `OCIFORGE_TOOLCHAINS_<TOOL>_KEYRING`, else the plan's
    /// `[toolchains.<tool>] keyring`. An unknown tool or a relative path fails naming the setting.
    func keyrings(for plan: ResolvedPlan) throws(BuildEngineError) -> [ToolKind: String] {
        var out: [ToolKind: String] = [:]
        for t in plan.toolchains {
            if let k = t.upstream?.keyring, let kind = ToolKind(rawValue: t.name) { out[kind] = k }
        }
        for kind in ToolKind.allCases {
            let name = "OCIFORGE_TOOLCHAINS_\(kind.rawValue.uppercased())_KEYRING"
            if let v = environment[name], !v.isEmpty { out[kind] = try Self.keyringPath(v, setting: "$" + name) }
        }
        for (key, value) in keyrings.sorted(by: { $0.key < $1.key }) {
            guard let kind = ToolKind(rawValue: key) else {
                throw BuildEngineError(
                    .invalidInput,
                    "--toolchain-keyring \(key): unknown tool (known: \(ToolKind.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            out[kind] = try Self.keyringPath(value, setting: "--toolchain-keyring \(key)")
        }
        return out
    }

    static func keyringPath(_ value: String, setting: String) throws(BuildEngineError) -> String {
        guard value.hasPrefix("/") else {
            throw BuildEngineError(
                .invalidInput, "\(setting): '\(value)' is not an absolute path to an OpenPGP keyring file")
        }
        return value
    }
}
