import Foundation
import Yams

/// Reads lttle and Compartment deployment files (multi-document YAML) into `DeploymentResource`s: every
/// `machine:` / `app:` document with `build:` and every `services.<name>` with `build:`. The build blocks go
/// through `ConfigReader.buildBlock` / `optionsBlock` / `dockerBlock` (ociforge.toml's readers) in strict mode,
/// so unknown keys are errors; every error names the file, line and column.
public struct DeploymentReader: Sendable {
    /// The process environment over which `--env-file` values were laid: Compartment `env` keys take their
    /// values from here.
    public var environment: [String: String]

    public init(environment: [String: String] = [:]) {
        self.environment = environment
    }

    /// Reads `path` (relative paths are taken from the current directory, like every command-line path).
    public func read(path: String) throws(PlannerError) -> DeploymentFile {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw PlannerError(.io, "cannot read the deployment file", file: path)
        }
        return try parse(bytes: Array(data), path: path, directory: (absolute as NSString).deletingLastPathComponent)
    }

    /// Parses a file's bytes; `directory` is what relative paths in it are relative to.
    public func parse(bytes: [UInt8], path: String, directory: String) throws(PlannerError) -> DeploymentFile {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PlannerError(.syntax, "the deployment file is not valid UTF-8", file: path)
        }
        let documents = try YAMLConfig.documents(text, file: path)
        let session = DeploymentSession(
            file: path, directory: directory, lines: TextLines(bytes), environment: environment)
        var resources: [DeploymentResource] = []
        for (index, root) in documents.enumerated() {
            guard case let .mapping(top) = root else { continue }
            for (key, value) in top {
                switch YAMLConfig.string(key) {
                case "machine", "app":
                    if let r = try session.lttle(kind: YAMLConfig.string(key)!, value, document: index + 1) {
                        resources.append(r)
                    }
                case "services":
                    resources += try session.compartment(value, document: index + 1)
                default: continue
                }
            }
        }
        return DeploymentFile(path: path, bytes: bytes, documentCount: documents.count, resources: resources)
    }

    /// Two resources pushing to the same reference would overwrite each other: an error naming both.
    public static func checkDistinctTargets(_ resources: [DeploymentResource], registry: String) throws(PlannerError) {
        var seen: [String: DeploymentResource] = [:]
        for r in resources {
            let ref = r.reference(registry: registry)
            if let other = seen[ref] {
                throw PlannerError(
                    .invalidValue,
                    "\(ref) is the image of both \(other.label) and \(r.label); give one another name, tag or image",
                    file: r.location.file, line: r.location.line, column: r.location.column, key: "build")
            }
            seen[ref] = r
        }
    }
}

/// One file's reading state.
struct DeploymentSession {
    let file: String
    let directory: String
    let lines: TextLines
    let environment: [String: String]

    func fail(_ code: PlannerError.Code, _ message: String, _ node: Yams.Node?, _ key: String) -> PlannerError {
        PlannerError(code, message, file: file, line: node?.mark?.line, column: node?.mark?.column, key: key)
    }

    func fail(_ code: PlannerError.Code, _ message: String, _ node: ConfigNode?, _ key: String) -> PlannerError {
        PlannerError(code, message, file: file, line: node?.line, column: node?.column, key: key)
    }

    /// The entries of a resource mapping by key.
    func entries(_ m: Yams.Node.Mapping) -> [String: (key: Yams.Node, value: Yams.Node)] {
        var out: [String: (key: Yams.Node, value: Yams.Node)] = [:]
        for (k, v) in m { if let s = YAMLConfig.string(k) { out[s] = (k, v) } }
        return out
    }

    /// The span of the `build` entry, or an error when it cannot be replaced as text.
    func span(_ buildKey: Yams.Node, parent: Yams.Node.Mapping, path: String) throws(PlannerError) -> TextSpan {
        guard parent.style != .flow, let mark = buildKey.mark,
            let span = lines.entrySpan(line: mark.line, column: mark.column)
        else {
            throw fail(
                .invalidValue,
                "a build block inside a flow mapping ({...}) cannot be replaced in place; write the resource in block style",
                buildKey, path)
        }
        if let anchor = lines.anchor(in: span) {
            throw PlannerError(
                .invalidValue,
                "anchors (&name) are not supported in build blocks: the block is replaced by an image and an alias to it would dangle",
                file: file, line: anchor.line, column: anchor.column, key: path)
        }
        return span
    }

    func location(_ node: Yams.Node, document: Int) -> DeploymentLocation {
        DeploymentLocation(file: file, document: document, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    func isFile(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && !dir.boolValue
    }

    /// A string field of a resource (name, namespace, path).
    func stringField(_ e: (key: Yams.Node, value: Yams.Node)?, _ path: String) throws(PlannerError) -> String? {
        guard let e else { return nil }
        guard case let .scalar(s) = e.value, !YAMLConfig.isNull(e.value) else {
            throw fail(.type, "expected a string", e.value, path)
        }
        return s.string
    }

    /// The child of a table node by key.
    static func child(_ node: ConfigNode, _ key: String) -> ConfigNode? {
        guard case let .table(entries) = node.value else { return nil }
        return entries.first { $0.key == key }?.node
    }
}
