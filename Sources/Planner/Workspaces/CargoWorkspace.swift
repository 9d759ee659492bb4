import Foundation

/// A Cargo workspace (`[workspace] members`) with one or more binaries: which package and binary to build.
enum CargoWorkspace {
    struct Target: Equatable {
        var package: String
        var bin: String
        var member: String
    }

    /// Nil when Cargo.toml is not a workspace root or is itself the app's package (a `[package]` beside
    /// `[workspace]` is built as before unless an app is chosen).
    static func target(_ cargo: ConfigNode, ctx: ProviderContext) throws(PlannerError) -> Target? {
        guard let ws = cargo["workspace"] else { return nil }
        let selected = ctx.selectedApp ?? ctx.setting("RUST_BIN") ?? ctx.config.string("bin")
        if cargo["package"] != nil && ctx.selectedApp == nil { return nil }
        let patterns = (ws["members"]?.arrayValue ?? []).compactMap(\.stringValue)
        var members: [WorkspaceMember] = []
        var packages: [String: String] = [:]
        for dir in AppSelection.expand(patterns, manifest: "Cargo.toml", app: ctx.app) {
            guard let toml = try ctx.app.toml(dir + "/Cargo.toml"), let name = toml["package"]?["name"]?.stringValue
            else { continue }
            var bins = (toml["bin"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            if bins.isEmpty && ctx.app.has(dir + "/src/main.rs") { bins = [name] }
            for f in ctx.app.allFiles
            where f.hasPrefix(dir + "/src/bin/") && f.hasSuffix(".rs")
                && f.split(separator: "/").count == dir.split(separator: "/").count + 3
            {
                bins.append(String(f.split(separator: "/").last!.dropLast(3)))
            }
            for bin in Array(Set(bins)).sorted() {
                members.append(WorkspaceMember(path: dir, name: bin))
                packages[dir + "\u{0}" + bin] = name
            }
        }
        // A member chosen by path with several binaries: its package's binary of the same name, else ambiguous.
        var candidates = members
        if let selected, members.filter({ $0.path == NodeFramework.clean(selected) }).count > 1 {
            candidates = members.filter { $0.path == NodeFramework.clean(selected) }
            let m = try AppSelection.choose(
                candidates, selected: candidates.first { packages[$0.path + "\u{0}" + $0.name] == $0.name }?.name,
                workspace: "the Cargo workspace member \(selected)", file: "Cargo.toml")
            return Target(package: packages[m.path + "\u{0}" + m.name]!, bin: m.name, member: m.path)
        }
        let m = try AppSelection.choose(
            candidates, selected: selected, workspace: "the Cargo workspace", file: "Cargo.toml")
        return Target(package: packages[m.path + "\u{0}" + m.name]!, bin: m.name, member: m.path)
    }
}
