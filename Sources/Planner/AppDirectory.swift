import Foundation

/// Read-only view of the app directory: the only thing the Planner reads.
public struct AppDirectory: Sendable {
    public let root: String
    /// Every regular file (and symlink), relative, sorted by bytes; `.git` is never listed.
    public let allFiles: [String]
    private let fileSet: Set<String>

    public init(root: String) throws(PlannerError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw PlannerError(.io, "the app directory does not exist or is not a directory", file: root)
        }
        self.root = root
        var files: [String] = []
        Self.walk(root, "", into: &files)
        files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        self.allFiles = files
        self.fileSet = Set(files)
    }

    private static func walk(_ base: String, _ rel: String, into files: inout [String]) {
        let dir = rel.isEmpty ? base : base + "/" + rel
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            if rel.isEmpty && name == ".git" { continue }
            let childRel = rel.isEmpty ? name : rel + "/" + name
            let full = base + "/" + childRel
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(base, childRel, into: &files)
            } else {
                files.append(childRel)
            }
        }
    }

    public func has(_ path: String) -> Bool { fileSet.contains(path) }

    public func hasDirectory(_ path: String) -> Bool {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return allFiles.contains { $0.hasPrefix(prefix) }
    }

    public func read(_ path: String) -> String? {
        guard has(path) else { return nil }
        return try? String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    /// Top-level entries (files and directories) of the app directory.
    public var topLevelDirectories: [String] {
        var dirs = Set<String>()
        for file in allFiles { if let slash = file.firstIndex(of: "/") { dirs.insert(String(file[..<slash])) } }
        return dirs.sorted()
    }

    public var topLevelFiles: [String] { allFiles.filter { !$0.contains("/") } }

    func json(_ path: String) throws(PlannerError) -> ConfigNode? {
        guard let text = read(path) else { return nil }
        return try ConfigParser.parse(text, format: .json, file: path)
    }

    func toml(_ path: String) throws(PlannerError) -> ConfigNode? {
        guard let text = read(path) else { return nil }
        return try ConfigParser.parse(text, format: .toml, file: path)
    }

    func files(withSuffix suffix: String, maxDepth: Int = 0) -> [String] {
        allFiles.filter { $0.hasSuffix(suffix) && $0.split(separator: "/").count <= maxDepth + 1 }
    }

    /// First line of a file (version files like .nvmrc), without comments and whitespace.
    func firstLine(_ path: String) -> String? {
        guard let text = read(path) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmed(" \t\r")
            if !t.isEmpty && !t.hasPrefix("#") { return t }
        }
        return nil
    }

    /// `.tool-versions` (asdf) entry for a tool.
    func toolVersion(_ names: [String]) -> String? {
        guard let text = read(".tool-versions") else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, names.contains(String(parts[0])) { return String(parts[1]) }
        }
        return nil
    }
}

extension ConfigNode {
    subscript(key: String) -> ConfigNode? {
        guard case let .table(entries) = value else { return nil }
        return entries.first { $0.key == key }?.node
    }
    var stringValue: String? { if case let .string(s) = value { return s } else { return nil } }
    var keys: [String] { if case let .table(e) = value { return e.map(\.key) } else { return [] } }
    var arrayValue: [ConfigNode]? { if case let .array(a) = value { return a } else { return nil } }
}
