import ArgumentParser
import Foundation
import Planner

extension PlanCommand {
    /// `ociforge plan DIR DIR...`: every directory planned in this one process (`Planner.plan(appDirectories:)`).
    /// json: an array of `{"directory": …, "plan": …}` in argument order; table: each summary under its directory.
    /// A directory that fails is reported on stderr (`error: <dir>: …`) and the exit status is 2.
    func runBatch(_ options: PlanOptions) throws {
        guard format == "json" || format == "table" else {
            throw ValidationError("several directories are planned with --format json or table only")
        }
        let results = Planner.plan(appDirectories: [planner.directory] + moreDirectories, options: options)
        var items: [String] = []
        var failed = false
        for r in results {
            switch r.result {
            case .success(let planned):
                for w in planned.warnings { printError("warning: \(r.directory): \(w)") }
                if format == "table" {
                    print("== \(r.directory)\n" + PlanRenderer.summary(planned.plan), terminator: "")
                } else {
                    // Not re-indented: a string replace over every plan cost as much as planning (perf).
                    let plan = PlanRenderer.json(planned.plan)
                    items.append("{\"directory\": \(Self.jsonString(r.directory)), \"plan\": \(plan)}")
                }
            case .failure(let error):
                printError("error: \(r.directory): \(error)")
                failed = true
            }
        }
        if format == "json" { print("[\n" + items.joined(separator: ",\n") + "\n]") }
        if failed { throw ExitCode(2) }
    }

    static func jsonString(_ s: String) -> String {
        let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
