import Foundation

/// A uv workspace (`[tool.uv.workspace] members`/`exclude` in the root pyproject.toml, one uv.lock at the root):
/// which member to build and start. Apps are members with an entry file (main.py, app.py, wsgi.py, server.py) or
/// `[project.scripts]`; libraries are installed as the chosen app's dependencies only.
enum UVWorkspace {
    struct Target: Equatable {
        /// Directory relative to the app root (`""` for a root project).
        var member: String
        /// The member's `[project] name` (what `uv sync --package` takes).
        var package: String
        /// Entry file name inside the member directory.
        var entry: String?
        /// The first `[project.scripts]` name, in file order (on PATH in the venv).
        var script: String?
        /// The member's `[project] dependencies`, names only, lowercased (`flask>=3.1` → `flask`).
        var dependencies: Set<String> = []
        /// Every member's pyproject.toml (relative to the root): the install step's inputs beside uv.lock.
        var manifests: [String]

        /// `member/file`, or `file` for the root project.
        func path(_ file: String) -> String { member.isEmpty ? file : member + "/" + file }
    }

    static let entries = ["main.py", "app.py", "wsgi.py", "server.py"]

    /// Nil when pyproject.toml declares no uv workspace.
    static func target(_ pyproject: ConfigNode?, ctx: ProviderContext) throws(PlannerError) -> Target? {
        guard let ws = pyproject?["tool"]?["uv"]?["workspace"] else { return nil }
        let strings: (String) -> [String] = { key in (ws[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        let excluded = AppSelection.expand(strings("exclude"), manifest: "pyproject.toml", app: ctx.app)
        var dirs = AppSelection.expand(strings("members"), manifest: "pyproject.toml", app: ctx.app)
            .filter { !excluded.contains($0) }
        if pyproject?["project"]?["name"]?.stringValue != nil { dirs.insert("", at: 0) }
        var apps: [WorkspaceMember] = []
        var found: [String: Target] = [:]
        for dir in dirs {
            let manifest = dir.isEmpty ? "pyproject.toml" : dir + "/pyproject.toml"
            guard let toml = try ctx.app.toml(manifest), let name = toml["project"]?["name"]?.stringValue else {
                continue
            }
            let script = toml["project"]?["scripts"]?.keys.first
            let entry = entries.first { ctx.app.has(dir.isEmpty ? $0 : dir + "/" + $0) }
            var t = Target(member: dir, package: name, entry: entry, script: script, manifests: [])
            t.dependencies = Set(
                (toml["project"]?["dependencies"]?.arrayValue ?? []).compactMap(\.stringValue).map(requirementName))
            t.manifests = [manifest]
            found[dir] = t
            if entry != nil || script != nil { apps.append(WorkspaceMember(path: dir.isEmpty ? "." : dir, name: name)) }
        }
        let chosen = try AppSelection.choose(
            apps, selected: ctx.selectedApp, workspace: "the uv workspace", file: "pyproject.toml")
        var target = found[chosen.path == "." ? "" : chosen.path]!
        target.manifests = dirs.map { $0.isEmpty ? "pyproject.toml" : $0 + "/pyproject.toml" }
        return target
    }

    /// The distribution name of a PEP 508 requirement (`Flask[async] >= 3.1 ; python_version > "3"` → `flask`).
    static func requirementName(_ requirement: String) -> String {
        String(requirement.prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }).lowercased()
            .replacingOccurrences(of: "_", with: "-")
    }

    /// Third-party dependencies first (manifests and the lock only: a source change keeps this layer), then the
    /// workspace members themselves once the sources are in (editable, as uv installs workspace members).
    static func installCommands(_ t: Target) -> (install: String, build: String) {
        let package = shellQuote(t.package)
        return (
            "uv sync --frozen --no-dev --package \(package) --no-install-workspace",
            "uv sync --frozen --no-dev --package \(package)"
        )
    }
}
