import Foundation

/// A Dockerfile resolved against its build context, build args and target: what the executor runs. Every
/// variable is substituted, every COPY/ADD source from the context is resolved to a file list, only the stages
/// the target needs are kept, and the JSON (sorted keys, arrays in execution order) is stable for equal inputs.
///
/// Why a model of its own rather than `ResolvedPlan.steps`: a Dockerfile step is one layer with its own
/// environment, user, working directory, shell, exec/shell form, mounts and copy ownership, and a stage's config
/// changes instruction by instruction; `Step` (commands + include patterns) cannot say that. `ResolvedPlan`
/// keeps what does fit (the Dockerfile reference, secrets, caches, context files), see `DockerfilePlanning`.
public struct ResolvedDockerfile: Codable, Equatable, Sendable {
    public static let currentSchemaVersion = 1
    public var schemaVersion: Int
    /// The Dockerfile, relative to the app directory (or as given).
    public var dockerfile: String
    /// The build context, relative to the app directory (`.`).
    public var context: String
    public var directives: DockerfileDirectives
    /// Build args as supplied (config, then CLI); undeclared ones produce a warning and are otherwise unused.
    public var buildArgs: [String: String]
    /// The requested target stage (nil: the last stage).
    public var target: String?
    /// The platform the build is for (`linux/amd64`): TARGETPLATFORM and friends.
    public var platform: String
    /// The stages needed for the target, in Dockerfile order; the last one is the image.
    public var stages: [DockerfileStage]
    /// Image references the kept stages need (FROM, COPY --from, RUN --mount from=), sorted, unique.
    public var images: [String]
    /// Secret ids the kept stages mount (RUN --mount=type=secret), sorted, unique.
    public var secrets: [String]
    /// Files of the context after .dockerignore (relative, sorted by bytes); the executor snapshots these.
    public var contextFiles: [String]
    /// .dockerignore patterns in force, in order.
    public var contextExclude: [String]
    public var warnings: [String]

    /// The stage that becomes the image.
    public var finalStage: DockerfileStage { stages[stages.count - 1] }

    /// The image config a kept stage ends with: the deltas of its chain of stage bases applied, in order, to
    /// Docker's scratch config or to `root` (the config of the image at the bottom of the chain). Each stage
    /// starts without its base's OnBuild triggers (they ran when the stage started). Nil for an unknown index.
    public func config(ofStage index: Int, root: DockerfileImageConfig? = nil) -> DockerfileImageConfig? {
        guard let stage = stages.first(where: { $0.index == index }) else { return nil }
        var base: DockerfileImageConfig
        switch stage.base.kind {
        case .scratch: base = .scratch
        case .image, .layout:
            base = root ?? DockerfileImageConfig()
            // BuildKit adds the default PATH to a stage whose base has none.
            if !(base.env ?? []).contains(where: { $0.hasPrefix("PATH=") }) {
                base.env = (base.env ?? []) + DockerfileImageConfig.scratch.env!
            }
        case .stage:
            guard let parent = stage.base.stage, let c = config(ofStage: parent, root: root) else { return nil }
            base = c
        }
        base.onBuild = nil
        return base.applying(stage.config)
    }
}

public struct DockerfileStage: Codable, Equatable, Sendable {
    /// 0-based position in the Dockerfile (also what `COPY --from=<n>` uses).
    public var index: Int
    /// `AS name`, lower-cased; nil when unnamed.
    public var name: String?
    public var line: Int
    public var base: DockerfileBase
    /// `FROM --platform=…`, substituted.
    public var platform: String?
    /// Instructions in order: every instruction of the stage is one step (ONBUILD triggers of a stage base come
    /// first, with the base's lines).
    public var steps: [DockerfileStep]
    /// What this stage changes in the config it starts from (the base stage's final config, or the base image's):
    /// apply with `DockerfileImageConfig.applying(_:)`.
    public var config: DockerfileConfigDelta
    /// Stages this one needs (base and `--from` / mount sources), by index, sorted.
    public var dependsOn: [Int]
}

public struct DockerfileBase: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case scratch, stage, image, layout }
    public var kind: Kind
    /// `.image`: the reference as written after substitution (`node:18-bookworm`); `.layout`: the
    /// `oci-layout:<path>[:tag]` reference.
    public var reference: String?
    /// `.stage`: the index of the earlier stage.
    public var stage: Int?
    public static let scratch = DockerfileBase(kind: .scratch, reference: nil, stage: nil)
}

public struct DockerfileStep: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case run, copy, add, workdir, config }
    public var kind: Kind
    public var line: Int
    /// `RUN npm ci` — the instruction as written (history `created_by`).
    public var instruction: String
    public var run: DockerfileRun?
    /// `.copy` / `.add`.
    public var copy: DockerfileCopy?
    /// `.workdir`: the directory to create if missing (absolute).
    public var workdir: String?
    /// The config change of this instruction (ENV, LABEL, CMD, … and WORKDIR/USER); nil for RUN/COPY/ADD.
    public var config: DockerfileConfigDelta?
    /// `.workdir`: the USER in effect (the directory is created 0755 owned by it; nil = the base's user).
    public var user: String? = nil
}

public struct DockerfileRun: Codable, Equatable, Sendable {
    public enum Form: String, Codable, Sendable { case shell, exec, heredoc }
    public var form: Form
    /// Exactly what to execute: for shell form `shell + [command]`, for heredocs `shell + [script]` where the
    /// script is the command line followed by the heredoc bodies and delimiters (the shell reads them).
    public var argv: [String]
    /// ENV in effect: the stage chain's ENV settings (`K=V`, applied over the base image's Env like Docker does).
    public var env: [String]
    /// Build args in scope (`K=V`), not shadowed by ENV: environment of this command only, never in the image.
    public var args: [String]
    /// USER in effect when set in the Dockerfile (nil: the base image's).
    public var user: String?
    /// WORKDIR in effect (nil: the base image's, `/` for scratch).
    public var workdir: String?
    public var mounts: [DockerfileMount]
    /// Files to provide read-only before running (BuildKit's `RUN <<EOF` with a `#!` line: the body is mounted
    /// at `/dev/pipes/<name>` with mode 0755 and `argv` runs it).
    public var files: [DockerfileInlineFile]
    public enum Network: String, Codable, Sendable { case `default`, none, host }
    public var network: Network

    /// The process environment: `env` over the root config's Env (`DockerfileImageConfig.scratch` for a
    /// scratch chain, the base image's config otherwise; Docker's default PATH when it has none), then the
    /// build args.
    public func environment(root: DockerfileImageConfig?) -> [String] {
        var base = root?.env ?? []
        if !base.contains(where: { $0.hasPrefix("PATH=") }) { base += DockerfileImageConfig.scratch.env! }
        return DockerfileImageConfig.applyEnv(env, to: base) + args
    }
}

public struct DockerfileMount: Codable, Equatable, Sendable {
    public enum MountType: String, Codable, Sendable { case bind, cache, secret, tmpfs }
    public enum Sharing: String, Codable, Sendable { case shared, `private`, locked }
    public var type: MountType
    /// Absolute path inside the container.
    public var target: String
    /// cache: the cache id (default: the target); secret: the secret id (default: basename of the target).
    public var id: String?
    /// bind / cache: the path inside `from` (default: its root).
    public var source: String?
    /// bind / cache source: nil = the build context (bind) or an empty cache; otherwise a stage or an image.
    public var from: DockerfileSourceRef?
    public var sharing: Sharing?
    public var readOnly: Bool
    /// Octal mode string (`0755`), uid and gid, when given.
    public var mode: String?
    public var uid: Int?
    public var gid: Int?
    /// secret: fail when the secret is not supplied (default false: the mount is skipped).
    public var required: Bool
    /// secret: expose as this environment variable; with `env` and no `target=` the secret is not a file
    /// (`target` is then "").
    public var env: String?
    /// tmpfs: size in bytes.
    public var size: Int64?
}

/// A `--from=` value: a stage (by index) or an image reference.
public struct DockerfileSourceRef: Codable, Equatable, Sendable {
    public var stage: Int?
    public var image: String?
}

public struct DockerfileCopy: Codable, Equatable, Sendable {
    /// nil: the build context (or heredocs); otherwise a stage or an image filesystem.
    public var from: DockerfileSourceRef?
    /// The sources after substitution, as written (context-relative, or absolute paths in `from`).
    public var sources: [String]
    /// The destination after substitution and WORKDIR resolution (absolute; a trailing `/` kept).
    public var destination: String
    /// Whether the destination is a directory (trailing slash, several sources, or a directory source).
    public var destinationIsDirectory: Bool
    /// Context sources resolved to entries (empty when `from` is set: the executor resolves those paths in the
    /// stage/image filesystem with the same rules: `DockerfileCopyRules.resolve(_:root:)`).
    public var entries: [DockerfileCopyEntry]
    /// `COPY <<EOF /file`: files written from heredocs.
    public var inline: [DockerfileInlineFile]
    /// `--chown` after substitution (`user[:group]`, names resolved by the executor in the stage's /etc files).
    public var chown: String?
    /// `--chmod` (octal like `0755`, or symbolic like `u+x`).
    public var chmod: String?
    public var link: Bool
    /// `--exclude` patterns (.dockerignore syntax, relative to each copied directory; not substituted), already
    /// applied to `entries`.
    public var exclude: [String]
    /// `--parents`: each match keeps its path (below a `/./` pivot in the source, else from the root) under the
    /// destination directory; already applied to `entries`.
    public var parents: Bool = false
}

public struct DockerfileCopyEntry: Codable, Equatable, Sendable {
    public enum EntryType: String, Codable, Sendable { case file, directory, symlink }
    public enum Archive: String, Codable, Sendable { case tar, gzip, bzip2, xz, zstd }
    /// Relative to the context.
    public var source: String
    /// Absolute path in the image.
    public var destination: String
    public var type: EntryType
    /// ADD of a local archive: extract into `destination` (a directory) instead of copying. For the compressed
    /// kinds Docker extracts only when the decompressed stream is a tar; otherwise the file is copied as is.
    public var extract: Archive?
}

public struct DockerfileInlineFile: Codable, Equatable, Sendable {
    public var destination: String
    public var content: String
    /// Octal mode (`0644` unless --chmod).
    public var mode: String
}

public struct DockerfileHealthcheck: Codable, Equatable, Sendable {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    public var test: [String]
    /// Nanoseconds; 0 = inherit the default.
    public var interval: Int64
    public var timeout: Int64
    public var startPeriod: Int64
    public var startInterval: Int64
    public var retries: Int
}

/// Changes to the image config (nil: unchanged). `env` is ordered `K=V` settings applied over the previous Env
/// (a key already present is replaced in place, a new one appended); `cmd == []` means reset (ENTRYPOINT set in a
/// stage whose CMD came from its base); labels, ports and volumes are added.
public struct DockerfileConfigDelta: Codable, Equatable, Sendable {
    public var env: [String]?
    public var user: String?
    public var workingDir: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var labels: [String: String]?
    public var exposedPorts: [String]?
    public var volumes: [String]?
    public var stopSignal: String?
    public var healthcheck: DockerfileHealthcheck?
    public var onBuild: [String]?
    public var shell: [String]?
    /// MAINTAINER.
    public var author: String?
    public init() {}

    public var isEmpty: Bool { self == DockerfileConfigDelta() }

    /// `later` on top of `self`.
    public func merged(with later: DockerfileConfigDelta) -> DockerfileConfigDelta {
        var out = self
        if let e = later.env { out.env = DockerfileImageConfig.applyEnv(e, to: out.env ?? []) }
        if let v = later.user { out.user = v }
        if let v = later.workingDir { out.workingDir = v }
        if let v = later.entrypoint { out.entrypoint = v }
        if let v = later.cmd { out.cmd = v }
        if let v = later.labels { out.labels = (out.labels ?? [:]).merging(v) { $1 } }
        if let v = later.exposedPorts { out.exposedPorts = Array(Set((out.exposedPorts ?? []) + v)).sorted() }
        if let v = later.volumes { out.volumes = Array(Set((out.volumes ?? []) + v)).sorted() }
        if let v = later.stopSignal { out.stopSignal = v }
        if let v = later.healthcheck { out.healthcheck = v }
        if let v = later.onBuild { out.onBuild = (out.onBuild ?? []) + v }
        if let v = later.shell { out.shell = v }
        if let v = later.author { out.author = v }
        return out
    }
}

/// The config fields a Dockerfile controls, as in an OCI image config (`nil` = absent).
public struct DockerfileImageConfig: Codable, Equatable, Sendable {
    public var env: [String]?
    public var user: String?
    public var workingDir: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var labels: [String: String]?
    public var exposedPorts: [String]?
    public var volumes: [String]?
    public var stopSignal: String?
    public var healthcheck: DockerfileHealthcheck?
    public var onBuild: [String]?
    public var shell: [String]?
    public var author: String?
    public init() {}

    /// Docker's starting config for `FROM scratch`: only the default PATH.
    public static let scratch: DockerfileImageConfig = {
        var c = DockerfileImageConfig()
        c.env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        return c
    }()

    public func applying(_ delta: DockerfileConfigDelta) -> DockerfileImageConfig {
        var out = self
        if let e = delta.env { out.env = Self.applyEnv(e, to: out.env ?? []) }
        if let v = delta.user { out.user = v }
        if let v = delta.workingDir { out.workingDir = v }
        if let v = delta.entrypoint { out.entrypoint = v }
        if let v = delta.cmd { out.cmd = v.isEmpty ? nil : v }
        if let v = delta.labels { out.labels = (out.labels ?? [:]).merging(v) { $1 } }
        if let v = delta.exposedPorts { out.exposedPorts = Array(Set((out.exposedPorts ?? []) + v)).sorted() }
        if let v = delta.volumes { out.volumes = Array(Set((out.volumes ?? []) + v)).sorted() }
        if let v = delta.stopSignal { out.stopSignal = v }
        if let v = delta.healthcheck { out.healthcheck = v }
        if let v = delta.onBuild { out.onBuild = (out.onBuild ?? []) + v }
        if let v = delta.shell { out.shell = v }
        if let v = delta.author { out.author = v }
        return out
    }

    /// `K=V` settings over an Env list: replace in place, append new keys.
    public static func applyEnv(_ settings: [String], to base: [String]) -> [String] {
        var out = base
        for kv in settings {
            let key = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            if let i = out.firstIndex(where: {
                $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == key
            }) {
                out[i] = kv
            } else {
                out.append(kv)
            }
        }
        return out
    }
}

public enum DockerfileRenderer {
    /// A human summary: one block per kept stage (base, then each step with its line), warnings last.
    public static func summary(_ build: ResolvedDockerfile) -> String {
        var out =
            "\(build.dockerfile) (context \(build.context), platform \(build.platform)\(build.target.map { ", target \($0)" } ?? ""))\n"
        for stage in build.stages {
            let base: String
            switch stage.base.kind {
            case .scratch: base = "scratch"
            case .stage: base = "stage \(stage.base.stage ?? -1)"
            case .image, .layout: base = stage.base.reference ?? "?"
            }
            out += "stage \(stage.index)\(stage.name.map { " \($0)" } ?? "") from \(base) (line \(stage.line))\n"
            for step in stage.steps {
                var detail = ""
                if let c = step.copy {
                    let files = c.entries.filter { $0.type != .directory }.count + c.inline.count
                    detail =
                        c.from == nil
                        ? " [\(files) file\(files == 1 ? "" : "s") → \(c.destination)]"
                        : " [from \(c.from?.stage.map { "stage \($0)" } ?? c.from?.image ?? "?") → \(c.destination)]"
                } else if let r = step.run, !r.mounts.isEmpty {
                    detail =
                        " ["
                        + r.mounts.map { "\($0.type.rawValue):\($0.target.isEmpty ? ($0.env ?? "") : $0.target)" }
                        .joined(separator: ", ") + "]"
                }
                let text = step.instruction.count > 90 ? String(step.instruction.prefix(87)) + "..." : step.instruction
                out +=
                    "  \(String(step.line).padding(toLength: 4, withPad: " ", startingAt: 0)) \(text.replacingOccurrences(of: "\n", with: "⏎"))\(detail)\n"
            }
        }
        for w in build.warnings { out += "warning: \(w)\n" }
        return out
    }

    /// Pretty JSON, sorted keys, ending in a newline.
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
