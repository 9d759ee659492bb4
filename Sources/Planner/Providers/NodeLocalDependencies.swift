import Foundation

/// Directories a package.json pulls in through `file:` / `link:` dependencies (vendored packages): the install
/// step sees only the manifests, so these directories are among its inputs too.
enum NodeLocalDependencies {
    static let sections = ["dependencies", "devDependencies", "optionalDependencies"]

    static func directories(_ pkg: ConfigNode, app: AppDirectory) -> [String] {
        var out: Set<String> = []
        for section in sections {
            guard let deps = pkg[section] else { continue }
            for name in deps.keys {
                guard let spec = deps[name]?.stringValue else { continue }
                for prefix in ["file:", "link:"] where spec.hasPrefix(prefix) {
                    let dir = NodeFramework.clean(String(spec.dropFirst(prefix.count)))
                    if !dir.hasPrefix("/") && !dir.split(separator: "/").contains("..") && dir != "."
                        && app.hasDirectory(dir)
                    {
                        out.insert(dir)
                    }
                }
            }
        }
        return out.sorted()
    }
}
