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
}
