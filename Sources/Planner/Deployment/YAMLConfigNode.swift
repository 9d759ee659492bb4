import Foundation
import Yams

/// YAML documents as `ConfigNode` trees with line and column, so build blocks from deployment files go through
/// the same `ConfigReader` validation as ociforge.toml.
enum YAMLConfig {
    /// Every document of a multi-document stream (`---`), as Yams nodes with their marks.
    static func documents(_ text: String, file: String) throws(PlannerError) -> [Yams.Node] {
        do {
            var out: [Yams.Node] = []
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() { out.append(node) }
            if let error = sequence.error { throw error }
            return out
        } catch let e as YamlError {
            throw syntaxError(e, file: file)
        } catch {
            throw PlannerError(.syntax, "invalid YAML", file: file)
        }
    }

    static func syntaxError(_ e: YamlError, file: String) -> PlannerError {
        switch e {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return PlannerError(.syntax, "invalid YAML: \(problem)", file: file, line: mark.line, column: mark.column)
        case let .duplicatedKeysInMapping(duplicates, _):
            return PlannerError(
                .syntax, "invalid YAML: duplicate keys \(duplicates.joined(separator: ", "))", file: file)
        default:
            return PlannerError(.syntax, "invalid YAML", file: file)
        }
    }

    /// A scalar's text when it is a string key or value (nil for mappings, sequences and aliases).
    static func string(_ node: Yams.Node) -> String? {
        if case let .scalar(s) = node { return s.string }
        return nil
    }

    static func isAlias(_ node: Yams.Node) -> Bool {
        if case .alias = node { return true }
        return false
    }

    static func isNull(_ node: Yams.Node) -> Bool {
        if case let .scalar(s) = node { return s.style == .plain && node.tag.rawValue == Tag.Name.null.rawValue }
        return false
    }

    /// Converts a node; a mapping or sequence value takes the line and column of `key` (where errors about it
    /// should point), like the JSON reader does.
    static func configNode(_ node: Yams.Node, key: Yams.Node? = nil, file: String, path: String) throws(PlannerError)
        -> ConfigNode
    {
        let mark = node.mark
        switch node {
        case let .scalar(s):
            if isNull(node) {
                throw PlannerError(
                    .type, "an empty value (null) is not allowed here; give a value or remove the key",
                    file: file, line: (key ?? node).mark?.line, column: (key ?? node).mark?.column, key: path)
            }
            let value: ConfigValue
            if s.style != .plain {
                value = .string(s.string)
            } else {
                switch Tag.Name(rawValue: node.tag.rawValue) {
                case .bool: value = node.bool.map(ConfigValue.bool) ?? .string(s.string)
                case .int: value = node.int.map(ConfigValue.int) ?? .string(s.string)
                case .float: value = node.float.map(ConfigValue.double) ?? .string(s.string)
                default: value = .string(s.string)
                }
            }
            return ConfigNode(value, line: mark?.line, column: mark?.column)
        case let .mapping(m):
            var entries: [(key: String, node: ConfigNode)] = []
            for (k, v) in m {
                guard let name = string(k) else {
                    throw PlannerError(
                        .type, "mapping keys must be strings", file: file, line: k.mark?.line, column: k.mark?.column,
                        key: path)
                }
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                entries.append((name, try configNode(v, key: k, file: file, path: childPath)))
            }
            let at = key?.mark ?? mark
            return ConfigNode(.table(entries), line: at?.line, column: at?.column)
        case let .sequence(seq):
            var items: [ConfigNode] = []
            for (i, item) in seq.enumerated() { items.append(try configNode(item, file: file, path: "\(path)[\(i)]")) }
            let at = key?.mark ?? mark
            return ConfigNode(.array(items), line: at?.line, column: at?.column)
        case .alias:
            throw PlannerError(
                .invalidValue, "aliases (*name) are not supported in build blocks; write the values out",
                file: file, line: mark?.line, column: mark?.column, key: path)
        }
    }
}
