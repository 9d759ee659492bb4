import Foundation

/// The runtime `PORT`: every server the planner starts listens on `$PORT`, by default an unprivileged port
/// (≥ 1024) so the non-root runtime user can bind it. Providers that generate the server configuration (static
/// sites, PHP) set 8080; start commands written as `${PORT:-N}` (Python 8000, Rails 3000, Rack 9292) get N. The
/// image config then exposes it. A `PORT` from the config or `--env` always wins.
enum DefaultPort {
    static let standard = 8080

    static func apply(to env: inout [String: String], startCommand: String?) {
        guard env["PORT"] == nil, let cmd = startCommand, let n = fallback(in: cmd) else { return }
        env["PORT"] = String(n)
    }

    /// N from the first `${PORT:-N}` in a command.
    static func fallback(in command: String) -> Int? {
        guard let r = command.range(of: "${PORT:-") else { return nil }
        let digits = command[r.upperBound...].prefix { $0.isNumber }
        guard let n = Int(digits), command[r.upperBound...].dropFirst(digits.count).first == "}" else { return nil }
        return n
    }
}
