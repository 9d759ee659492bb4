import Foundation
import TOMLKit

public enum PlanRenderer {
    /// Pretty JSON with sorted keys (stable byte-for-byte), ending in a newline.
    public static func json(_ plan: ResolvedPlan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(plan)) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func toml(_ plan: ResolvedPlan) throws(PlannerError) -> String {
        do {
            return try TOMLEncoder().encode(plan)
        } catch {
            throw PlannerError(.invalidValue, "cannot render the plan as TOML", cause: error)
        }
    }

    /// The build summary: one row per phase (setup, install, build, …) and start, with their commands/packages.
    public static func summary(_ plan: ResolvedPlan) -> String {
        var rows: [(String, String)] = []
        if plan.strategy == .dockerfile, let d = plan.dockerfile {
            rows.append(("dockerfile", "\(d.path) (context \(d.context))"))
        }
        for t in plan.toolchains {
            for (i, line) in toolchainLines(t).enumerated() { rows.append((i == 0 ? "toolchain" : "", line)) }
        }
        for m in plan.packageManagers {
            rows.append(
                (
                    "",
                    "\(m.name) \(m.version ?? "(current)") via \(m.via.rawValue)" + (m.request.map { " — \($0)" } ?? "")
                ))
        }
        for step in plan.steps {
            var lines: [String] = []
            if !step.aptPackages.isEmpty { lines.append("apt: " + step.aptPackages.joined(separator: ", ")) }
            lines += step.commands
            if lines.isEmpty { lines = ["-"] }
            for (i, l) in lines.enumerated() { rows.append((i == 0 ? step.name : "", l)) }
        }
        if let deploy = plan.deploy {
            rows.append(("start", deploy.startCommand ?? "(none)"))
        }
        let toolchains = plan.toolchains.map {
            "\($0.name) \($0.upstream?.pin?.version ?? $0.version ?? $0.upstream?.constraint ?? "")"
        }
        .joined(separator: ", ")
        let w1 = max(5, rows.map(\.0.count).max() ?? 0)
        let w2 = min(100, max(20, rows.map(\.1.count).max() ?? 0))
        let title =
            plan.strategy == .dockerfile
            ? "dockerfile"
            : (plan.providers.isEmpty ? "(no provider)" : plan.providers.joined(separator: ", "))
                + (toolchains.isEmpty ? "" : " — \(toolchains)")
        var out = "╔" + String(repeating: "═", count: w1 + w2 + 5) + "╗\n"
        out += "║ " + pad(title, w1 + w2 + 3) + " ║\n"
        out += "╠" + String(repeating: "═", count: w1 + 2) + "╤" + String(repeating: "═", count: w2 + 2) + "╣\n"
        for (a, b) in rows {
            var text = b
            var first = true
            repeat {
                let chunk = String(text.prefix(w2))
                text = String(text.dropFirst(w2))
                out += "║ " + pad(first ? a : "", w1) + " │ " + pad(chunk, w2) + " ║\n"
                first = false
            } while !text.isEmpty
        }
        out += "╚" + String(repeating: "═", count: w1 + 2) + "╧" + String(repeating: "═", count: w2 + 2) + "╝\n"
        return out
    }

    /// `node 20.19.2 from debian trixie — package.json:5 engines.node >=20`; upstream: the channel and constraint,
    /// and the URL and digest once pinned.
    static func toolchainLines(_ t: Toolchain) -> [String] {
        let asked = t.request.map { " — \($0) \($0.constraint)" } ?? " — default"
        switch t.source {
        case .debian:
            return ["\(t.name) \(t.version ?? "?") from debian \(t.debian?.suite ?? "")" + asked]
        case .upstream:
            let up = t.upstream
            guard let pin = up?.pin else {
                return [
                    "\(t.name) \(t.version ?? up?.constraint ?? "?") from upstream \(up?.channel ?? t.name) (resolved at build)"
                        + asked
                ]
            }
            let others = (up?.platformPins ?? []).flatMap { ["  \($0.platform): \($0.pin.url)", "  \($0.pin.digest)"] }
            let platforms = ([pin.platform] + (up?.platformPins ?? []).map(\.platform)).joined(separator: ", ")
            return [
                "\(t.name) \(pin.version) from upstream \(up?.channel ?? t.name) (pinned, \(platforms))" + asked,
                "  \(pin.url)", "  \(pin.digest)"
            ] + others
        }
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }

    /// `detect` output: one provider per line with the file that matched.
    public static func detect(_ providers: [DetectedProvider]) -> String {
        providers.map { p in p.matchedFile.map { "\(p.name)\t(\($0))" } ?? p.name }.joined(separator: "\n")
            + (providers.isEmpty ? "" : "\n")
    }

    /// Atomic write: a temp file in the same directory renamed into place.
    public static func writeAtomically(_ text: String, to path: String) throws(PlannerError) {
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
            throw PlannerError(.io, "cannot write", file: tmp)
        }
        if rename(tmp, path) != 0 {
            let err = errno
            unlink(tmp)
            throw PlannerError(.io, "cannot rename into place: \(String(cString: strerror(err)))", file: path)
        }
    }
}
