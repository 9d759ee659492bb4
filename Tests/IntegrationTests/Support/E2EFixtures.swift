import Foundation

/// The plan fixtures `BuildEndToEndTests` builds, with the edits and flags each needs on these machines (no
/// rubygems.org, no Rust dist server): shared by those tests and the verify-rebuild loop.
struct E2EFixture: Sendable, CustomStringConvertible {
    var name: String
    var fixture: String
    var extra: [String] = []
    var prepare: @Sendable (String) throws -> Void = { _ in }
    var description: String { name }

    /// The fixtures whose build and fresh-state rebuild take about a minute each (CI); `all` with OCIFORGE_SLOW_TESTS=1.
    static var quick: [E2EFixture] { all.filter { ["shell", "static", "toml-only"].contains($0.name) } }

    static let all: [E2EFixture] = [
        E2EFixture(name: "shell", fixture: "planner/shell-script/app"),
        E2EFixture(name: "static", fixture: "planner/staticfile/app"),
        E2EFixture(name: "toml-only", fixture: "planner/no-providers/app"),
        E2EFixture(name: "node", fixture: "apps/node-plain", extra: ["--start-cmd", "node index.js"]),
        E2EFixture(name: "python", fixture: "planner/python-flask/app"),
        E2EFixture(name: "procfile", fixture: "planner/procfile-release/app", prepare: procfileRelease),
        E2EFixture(name: "two-providers", fixture: "planner/multi-providers/app", prepare: twoProviders),
        E2EFixture(name: "go", fixture: "planner/go-mod/app"),
        E2EFixture(name: "ruby", fixture: "apps/ruby-plain", prepare: rubyWithoutBundledWith),
        E2EFixture(name: "rust", fixture: "planner/rust-cargo/app", prepare: rustFromDebian)
    ]

    /// A prepared copy of the fixture in `dir`.
    func app(in dir: TempDir) throws -> String {
        let app = try BuildEndToEndTests.app(fixture, in: dir)
        try prepare(app)
        return app
    }

    /// The web process reads what the release step wrote.
    static func procfileRelease(_ app: String) throws {
        try
            "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return open('/app/migrated').read()\n"
            .write(toFile: app + "/app.py", atomically: true, encoding: .utf8)
        try "open('/app/migrated', 'w').write('migrated')\n".write(
            toFile: app + "/migrate.py", atomically: true, encoding: .utf8)
    }

    /// node builds an asset that gunicorn serves.
    static func twoProviders(_ app: String) throws {
        try """
        {"name": "assets", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "assets"}}}
        """.write(toFile: app + "/package-lock.json", atomically: true, encoding: .utf8)
        try
            "require('fs').mkdirSync('static', {recursive: true}); require('fs').writeFileSync('static/asset.txt', 'asset from ' + process.version);\n"
            .write(toFile: app + "/build.js", atomically: true, encoding: .utf8)
        try
            "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return open('/app/static/asset.txt').read()\n"
            .write(toFile: app + "/app.py", atomically: true, encoding: .utf8)
    }

    /// `BUNDLED WITH 2.3.15` plans `gem install bundler -v 2.3.15` from rubygems.org, which these machines cannot
    /// reach: without the section the suite's own bundler installs (the lock's version is a planner snapshot).
    static func rubyWithoutBundledWith(_ app: String) throws {
        let lock = try String(contentsOfFile: app + "/Gemfile.lock", encoding: .utf8)
        guard let cut = lock.range(of: "\nBUNDLED WITH") else { return }
        try String(lock[..<cut.lowerBound]).appending("\n")
            .write(toFile: app + "/Gemfile.lock", atomically: true, encoding: .utf8)
    }

    /// Without rust-toolchain.toml (`stable` plans the unreachable Rust dist server), Debian's rustc builds it.
    static func rustFromDebian(_ app: String) throws {
        try FileManager.default.removeItem(atPath: app + "/rust-toolchain.toml")
    }
}
