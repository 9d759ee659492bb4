import Foundation

/// A Go workspace (go.work `use` directives): which main package to build, from the workspace root (workspace
/// mode resolves the other modules locally).
enum GoWorkspace {
    /// The `use` directories of go.work, cleaned, sorted.
    static func modules(_ text: String) -> [String] {
        var out: [String] = []
        var inBlock = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw).replacingOccurrences(of: "//.*$", with: "", options: .regularExpression)
                .trimmingCharacters(in: .whitespaces)
            if inBlock {
                if line.hasPrefix(")") {
                    inBlock = false
                } else if !line.isEmpty {
                    out.append(NodeFramework.clean(line))
                }
            } else if line.hasPrefix("use") {
                let rest = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("(") {
                    inBlock = true
                } else if !rest.isEmpty {
                    out.append(NodeFramework.clean(rest))
                }
            }
        }
        return Array(Set(out)).sorted()
    }

    /// `./<dir>` of the chosen main package, nil without go.work.
    static func target(ctx: ProviderContext) throws(PlannerError) -> String? {
        guard let text = ctx.app.read("go.work") else { return nil }
        var candidates: [WorkspaceMember] = []
        for module in modules(text) {
            let prefix = module == "." ? "" : module + "/"
            var mains: Set<String> = []
            for f in ctx.app.allFiles where f.hasPrefix(prefix) && f.hasSuffix(".go") && !f.hasSuffix("_test.go") {
                let dir = (f as NSString).deletingLastPathComponent
                guard !mains.contains(dir),
                    ctx.app.read(f)?.contains("\npackage main") == true
                        || ctx.app.read(f)?.hasPrefix("package main") == true
                else { continue }
                mains.insert(dir)
            }
            for dir in mains.sorted() {
                let path = dir.isEmpty ? "." : dir
                candidates.append(WorkspaceMember(path: path, name: (path as NSString).lastPathComponent))
            }
        }
        let selected = ctx.selectedApp ?? ctx.setting("GO_BIN") ?? ctx.config.string("bin")
        let m = try AppSelection.choose(
            candidates, selected: selected, workspace: "the Go workspace (go.work)", file: "go.work")
        return m.path == "." ? "." : "./" + m.path
    }
}
