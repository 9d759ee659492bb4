import Foundation

/// One buildable app of a workspace (a JS workspace package, a Cargo binary, a Go module of go.work).
struct WorkspaceMember: Equatable {
    /// Directory relative to the app root.
    var path: String
    /// Package, crate or binary name.
    var name: String
    var label: String { path == name ? path : "\(path) (\(name))" }
}

/// Which member to build and start: the one chosen with `--app`, `app` in ociforge.toml or OCIFORGE_APP (matched
/// against paths and names), else the only candidate; several candidates without a choice is an error listing them.
enum AppSelection {
    static func choose(_ candidates: [WorkspaceMember], selected: String?, workspace: String, file: String)
        throws(PlannerError) -> WorkspaceMember
    {
        let list = candidates.map(\.label).joined(separator: ", ")
        if let selected {
            let want = NodeFramework.clean(selected)
            if let m = candidates.first(where: { $0.path == want || $0.name == selected }) { return m }
            throw PlannerError(
                .ambiguousApp, "\(workspace) has no app \"\(selected)\"; candidates: \(list.isEmpty ? "none" : list)",
                file: file, key: "app")
        }
        guard candidates.count != 1 else { return candidates[0] }
        if candidates.isEmpty {
            throw PlannerError(
                .ambiguousApp, "\(workspace) has no app to build (no member with a start script, server or binary)",
                file: file, key: "app")
        }
        throw PlannerError(
            .ambiguousApp,
            "\(workspace) has \(candidates.count) apps: \(list); choose one with --app <path> (or app = \"<path>\" in ociforge.toml, OCIFORGE_APP)",
            file: file, key: "app")
    }

    /// Expands workspace member patterns (`apps/*`, `packages/**`, `tools/cli`; `!` excludes) to directories
    /// holding `manifest`, sorted.
    static func expand(_ patterns: [String], manifest: String, app: AppDirectory) -> [String] {
        var dirs: Set<String> = []
        let withManifest = Set(
            app.allFiles.filter { $0.hasSuffix("/" + manifest) }.map { String($0.dropLast(manifest.count + 1)) })
        for raw in patterns where !raw.hasPrefix("!") {
            let p = NodeFramework.clean(raw)
            for d in withManifest where matches(p, d) { dirs.insert(d) }
        }
        for raw in patterns where raw.hasPrefix("!") {
            let p = NodeFramework.clean(String(raw.dropFirst()))
            dirs = dirs.filter { !matches(p, $0) }
        }
        return dirs.sorted()
    }

    static func matches(_ pattern: String, _ dir: String) -> Bool {
        if pattern.hasSuffix("/**") { return dir.hasPrefix(String(pattern.dropLast(2))) }
        let ps = pattern.split(separator: "/"), ds = dir.split(separator: "/")
        guard ps.count == ds.count else { return false }
        return zip(ps, ds).allSatisfy { IgnoreRules.glob(String($0), String($1)) }
    }
}
