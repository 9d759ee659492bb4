import ArgumentParser
import BuildEngine
import Foundation
import OCIWriter
import Planner
import Sandbox

/// `ociforge cache ls | prune`: the local layer cache (docs/cache.md).
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "List or prune the local layer cache.",
        subcommands: [CacheListCommand.self, CachePruneCommand.self])
}

/// Which cache the subcommands work on.
struct CacheLocation: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: "Layer cache directory (default: <state dir>/build-cache).")
    var cacheDir: String?

    func open() throws -> BuildCache {
        let dir =
            cacheDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? StateDirectory.default().path + "/build-cache"
        return try BuildCache(directory: dir)
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

struct CacheListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List cache entries, most recently used first.")

    @OptionGroup var location: CacheLocation

    @Flag(name: .customLong("json"), help: "Print the entries as JSON.")
    var json = false

    func run() throws {
        try reportingErrors {
            let items = LocalCacheInventory.list(try location.open())
            if json { return try printJSON(items) }
            let formatter = ISO8601DateFormatter()
            for i in items {
                let used = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(i.lastUsed)))
                print("\(i.key.prefix(16))  \(used)  \(BuildFormat.bytes(i.size))  \(i.createdBy.prefix(80))")
            }
            print("\(items.count) entries, \(BuildFormat.bytes(items.reduce(0) { $0 + $1.size })) of layers")
        }
    }
}

struct CachePruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract:
            "Remove entries unused for longer than --older-than, then the least recently used until --keep-bytes.")

    @OptionGroup var location: CacheLocation

    @Option(name: .customLong("older-than"), help: "Age since last use: 90m, 36h, 7d (s, m, h, d).")
    var olderThan: String?

    @Option(name: .customLong("keep-bytes"), help: "Keep at most this much layer data: 512M, 10G.")
    var keepBytes: ByteCount?

    @Flag(name: .customLong("json"), help: "Print the result as JSON.")
    var json = false

    /// `90m`, `36h`, `7d`, `3600s` or plain seconds.
    static func seconds(_ s: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        let unit = s.last.flatMap { units[$0] }
        guard let n = Int64(unit == nil ? s : String(s.dropLast())), n >= 0 else {
            throw ValidationError("--older-than expects a duration such as 90m, 36h or 7d, got '\(s)'")
        }
        return n * (unit ?? 1)
    }

    func run() throws {
        guard olderThan != nil || keepBytes != nil else {
            throw ValidationError("give --older-than, --keep-bytes or both")
        }
        let age = try olderThan.map(Self.seconds)
        try reportingErrors {
            let r = try LocalCacheInventory.prune(
                try location.open(), olderThan: age, keepBytes: keepBytes.map { Int64($0.bytes) })
            if json { return try printJSON(r) }
            print(
                "removed \(r.removedEntries) entries and \(r.removedBlobs) blobs (\(BuildFormat.bytes(r.freedBytes))); kept \(r.keptEntries) entries (\(BuildFormat.bytes(r.keptBytes)) of layers)"
            )
        }
    }
}

/// `ociforge plan --cache-keys`: the keys of every step before anything runs (a scheduler routes the build to a
/// worker whose cache has them). The flags that take part in keys must be those of the build.
struct CacheKeyFlags: ParsableArguments {
    @Flag(name: .customLong("cache-keys"), help: "Print the cache key of every build step instead of the plan.")
    var cacheKeys = false

    @Option(name: .customLong("runtime-base"), help: "As for build: the runtime base (takes part in the keys).")
    var runtimeBase: String?

    @Option(name: .customLong("ca-bundle"), help: "As for build: its variables take part in the phases' keys.")
    var caBundle: String?

    @Option(
        name: .customLong("cache-dir"), help: "Layer cache to mark local hits in (default: <state dir>/build-cache).")
    var cacheDir: String?

    @Option(name: .customLong("secret"), help: "As for build: secret ids (never values) take part in the keys.")
    var secret: [String] = []

    func print(plan: PlanResult, planOptions: PlanOptions, directory: String, base: String?, json: Bool) throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL.path
        try reportingErrors {
            var o = BuildOptions()
            o.base = base
            o.runtimeBase = runtimeBase
            o.caBundle = caBundle.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            o.cacheDirectory = cacheDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            o.secrets = try secret.map { try Secret.parse($0) }
            o.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
            let request = BuildRequest(source: .app(directory: dir, plan: plan, planOptions: planOptions), options: o)
            let keys = try BuildEngine.cacheKeys(request, runner: try Sandbox.detect(state: .default()))
            if json { return try printJSON(keys) }
            for k in keys {
                Swift.print("\(k.key)  \(k.cachedLocally ? "local" : "-    ")  \(k.stage)/\(k.phase)")
            }
        }
    }
}
