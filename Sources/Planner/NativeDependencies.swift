import Foundation

/// Dependencies with native code (Python C extensions, Ruby native gems, Node addons): the Debian packages their
/// build needs in the build stage (compiler, headers, pkg-config) and the shared libraries they load at runtime,
/// which go to the slim runtime stage. `git` joins the build stage when a dependency is a VCS URL.
///
/// Read from requirements*.txt, pyproject.toml, poetry.lock, uv.lock, Pipfile (Python), Gemfile and Gemfile.lock
/// (Ruby), package.json and package-lock.json (Node). Names are compared case-insensitively, `_` = `-` for Python.
enum NativeDependencies {
    struct Entry {
        var build: [String]
        var runtime: [String]
    }

    static let pythonBuild = ["build-essential", "pkg-config", "python3-dev"]
    static let nodeBuild = ["build-essential", "pkg-config", "python3"]

    static let python: [String: Entry] = [
        "psycopg2": Entry(build: pythonBuild + ["libpq-dev"], runtime: ["libpq5"]),
        "psycopg": Entry(build: [], runtime: ["libpq5"]),  // pure Python over libpq (ctypes)
        "psycopg-c": Entry(build: pythonBuild + ["libpq-dev"], runtime: ["libpq5"]),
        "mysqlclient": Entry(build: pythonBuild + ["default-libmysqlclient-dev"], runtime: ["libmariadb3"]),
        "pillow": Entry(
            build: pythonBuild + ["libjpeg-dev", "zlib1g-dev", "libfreetype-dev"],
            runtime: ["libjpeg62-turbo", "libfreetype6"]),
        "pycairo": Entry(build: pythonBuild + ["libcairo2-dev"], runtime: ["libcairo2"]),
        "pygobject": Entry(
            build: pythonBuild + ["libgirepository1.0-dev", "libcairo2-dev"],
            runtime: ["libgirepository-1.0-1", "libcairo2", "gir1.2-glib-2.0"]),
        "lxml": Entry(build: pythonBuild + ["libxml2-dev", "libxslt1-dev"], runtime: ["libxml2", "libxslt1.1"]),
        "cryptography": Entry(
            build: pythonBuild + ["libssl-dev", "libffi-dev", "rustc", "cargo"], runtime: ["libssl3"]),
        "cffi": Entry(build: pythonBuild + ["libffi-dev"], runtime: ["libffi8"]),
        "pyodbc": Entry(build: pythonBuild + ["unixodbc-dev"], runtime: ["libodbc2"]),
        "python-ldap": Entry(
            build: pythonBuild + ["libldap2-dev", "libsasl2-dev"], runtime: ["libldap-2.5-0", "libsasl2-2"]),
        "uwsgi": Entry(build: pythonBuild, runtime: []),
        "mysql-python": Entry(build: pythonBuild + ["default-libmysqlclient-dev"], runtime: ["libmariadb3"]),
        "pycurl": Entry(build: pythonBuild + ["libcurl4-openssl-dev", "libssl-dev"], runtime: ["libcurl4"]),
        "pyyaml": Entry(build: pythonBuild + ["libyaml-dev"], runtime: ["libyaml-0-2"]),
        "xmlsec": Entry(build: pythonBuild + ["libxmlsec1-dev", "libxml2-dev"], runtime: ["libxmlsec1-openssl"]),
        "weasyprint": Entry(build: [], runtime: ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"]),
        "gdal": Entry(build: pythonBuild + ["libgdal-dev"], runtime: ["libgdal32"])
    ]

    static let ruby: [String: Entry] = [
        "pg": Entry(build: ["libpq-dev"], runtime: ["libpq5"]),
        "mysql2": Entry(build: ["default-libmysqlclient-dev"], runtime: ["libmariadb3"]),
        "sqlite3": Entry(build: ["libsqlite3-dev"], runtime: ["libsqlite3-0"]),
        "nokogiri": Entry(build: ["libxml2-dev", "libxslt1-dev", "pkg-config"], runtime: ["libxml2", "libxslt1.1"]),
        "rmagick": Entry(build: ["libmagickwand-dev", "pkg-config"], runtime: ["libmagickwand-6.q16-6"]),
        "ruby-vips": Entry(build: [], runtime: ["libvips42"]),
        "mini_magick": Entry(build: [], runtime: ["imagemagick"]),
        "ffi": Entry(build: ["libffi-dev"], runtime: ["libffi8"]),
        "psych": Entry(build: ["libyaml-dev"], runtime: ["libyaml-0-2"]),
        "bcrypt": Entry(build: ["build-essential"], runtime: []),
        "puma": Entry(build: ["build-essential", "libssl-dev"], runtime: ["libssl3"]),
        "curb": Entry(build: ["libcurl4-openssl-dev"], runtime: ["libcurl4"])
    ]

    static let node: [String: Entry] = [
        // Prebuilt binaries bundle libvips (sharp ≥ 0.33 ships them as npm packages); the compiler is the fallback.
        "sharp": Entry(build: nodeBuild, runtime: []),
        "canvas": Entry(
            build: nodeBuild + ["libcairo2-dev", "libpango1.0-dev", "libjpeg-dev", "libgif-dev", "librsvg2-dev"],
            runtime: ["libcairo2", "libpango-1.0-0", "libpangocairo-1.0-0", "libjpeg62-turbo", "libgif7", "librsvg2-2"]),
        "bcrypt": Entry(build: nodeBuild, runtime: []),
        "argon2": Entry(build: nodeBuild, runtime: []),
        "sqlite3": Entry(build: nodeBuild, runtime: []),
        "better-sqlite3": Entry(build: nodeBuild, runtime: []),
        "pg-native": Entry(build: nodeBuild + ["libpq-dev"], runtime: ["libpq5"]),
        "libpq": Entry(build: nodeBuild + ["libpq-dev"], runtime: ["libpq5"]),
        "bufferutil": Entry(build: nodeBuild, runtime: []),
        "utf-8-validate": Entry(build: nodeBuild, runtime: []),
        "node-sass": Entry(build: nodeBuild, runtime: []),
        "re2": Entry(build: nodeBuild, runtime: []),
        "cpu-features": Entry(build: nodeBuild, runtime: []),
        "zeromq": Entry(build: nodeBuild + ["libzmq3-dev"], runtime: ["libzmq5"]),
        "oracledb": Entry(build: [], runtime: ["libaio1"])
    ]

    struct Found: Equatable {
        var names: [String] = []
        var vcs = false
    }

    /// Adds the packages for a provider's native dependencies to its setup phase (build) and runtime packages
    /// (only when the runtime runs the language: a static site built by Node has no addons at runtime).
    static func apply(to out: inout ProviderOutput, provider: String, app: AppDirectory) {
        let table: [String: Entry]
        let found: Found
        let runtimeLanguage: String
        switch provider {
        case "python":
            table = python
            found = pythonDependencies(app)
            runtimeLanguage = "python3"
        case "ruby":
            table = ruby
            found = rubyDependencies(app)
            runtimeLanguage = "ruby"
        case "node":
            table = node
            found = nodeDependencies(app)
            runtimeLanguage = "nodejs"
        default: return
        }
        var build: Set<String> = found.vcs ? ["git"] : []
        var runtime: Set<String> = []
        for name in found.names {
            guard let entry = table[name] else { continue }
            build.formUnion(entry.build)
            runtime.formUnion(entry.runtime)
        }
        guard !build.isEmpty || !runtime.isEmpty else { return }
        var phases = out.plan.phases ?? [:]
        var setup = phases["setup"] ?? PhaseConfig()
        setup.aptPkgs = Array(Set(setup.aptPkgs ?? []).union(build)).sorted()
        phases["setup"] = setup
        out.plan.phases = phases
        if out.runtimePackages.contains(runtimeLanguage) {
            out.runtimePackages = Array(Set(out.runtimePackages).union(runtime)).sorted()
        }
        let matched = found.names.filter { table[$0] != nil }
        if !matched.isEmpty {
            out.notes.append(
                PlannerWarning(
                    "native dependencies \(matched.joined(separator: ", ")): build packages \(build.sorted().joined(separator: " "))"
                        + (runtime.isEmpty ? "" : "; runtime libraries \(runtime.sorted().joined(separator: " "))")))
        }
    }

    // MARK: - readers

    static func normalizePython(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
    }

    /// The distribution name at the start of a PEP 508 requirement (`psycopg2>=2.9; python_version>"3"`), nil for
    /// options, URLs and comments.
    static func requirementName(_ line: Substring) -> String? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard let first = t.first, first.isLetter || first.isNumber else { return nil }
        let name = t.prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        return name.isEmpty ? nil : normalizePython(String(name))
    }

    static func pythonDependencies(_ app: AppDirectory) -> Found {
        var found = Found()
        var names: Set<String> = []
        let requirementFiles = app.topLevelFiles.filter { $0.hasPrefix("requirements") && $0.hasSuffix(".txt") }
        for file in requirementFiles {
            for line in (app.read(file) ?? "").split(whereSeparator: \.isNewline) {
                let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if text.contains("git+") || text.contains("hg+") || text.contains("svn+") || text.contains("bzr+") {
                    found.vcs = true
                }
                if let egg = text.range(of: "#egg=") { names.insert(normalizePython(String(text[egg.upperBound...]))) }
                if let n = requirementName(text) { names.insert(n) }
            }
        }
        if let pyproject = try? app.toml("pyproject.toml") {
            for dep in pyproject["project"]?["dependencies"]?.arrayValue ?? [] {
                guard let s = dep.stringValue else { continue }
                if s.contains("git+") { found.vcs = true }
                if let n = requirementName(Substring(s)) { names.insert(n) }
            }
            let poetry = pyproject["tool"]?["poetry"]?["dependencies"]
            for key in poetry?.keys ?? [] {
                names.insert(normalizePython(key))
                if poetry?[key]?["git"] != nil { found.vcs = true }
            }
        }
        for lock in ["poetry.lock", "uv.lock", "pdm.lock"] {
            for line in (app.read(lock) ?? "").split(whereSeparator: \.isNewline) where line.hasPrefix("name = \"") {
                names.insert(normalizePython(String(line.dropFirst(8).prefix { $0 != "\"" })))
            }
            if app.read(lock)?.contains("git = \"") == true || app.read(lock)?.contains("type = \"git\"") == true {
                found.vcs = true
            }
        }
        if let pipfile = try? app.toml("Pipfile") {
            for section in ["packages"] {
                for key in pipfile[section]?.keys ?? [] {
                    names.insert(normalizePython(key))
                    if pipfile[section]?[key]?["git"] != nil { found.vcs = true }
                }
            }
        }
        found.names = names.sorted()
        return found
    }

    static func rubyDependencies(_ app: AppDirectory) -> Found {
        var found = Found()
        var names: Set<String> = []
        for line in (app.read("Gemfile") ?? "").split(whereSeparator: \.isNewline) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("gem ") else { continue }
            let rest = t.dropFirst(4).trimmingCharacters(in: .whitespaces)
            guard let quote = rest.first, quote == "\"" || quote == "'" else { continue }
            names.insert(String(rest.dropFirst().prefix { $0 != quote }).lowercased())
            if rest.contains("git:") || rest.contains("github:") || rest.contains(":git =>") { found.vcs = true }
        }
        if let lock = app.read("Gemfile.lock") {
            if lock.contains("\nGIT\n") || lock.hasPrefix("GIT\n") { found.vcs = true }
            for line in lock.split(separator: "\n") where line.hasPrefix("    ") && !line.hasPrefix("     ") {
                let name = line.dropFirst(4).prefix { $0 != " " }
                if !name.isEmpty { names.insert(name.lowercased()) }
            }
        }
        found.names = names.sorted()
        return found
    }

    static func nodeDependencies(_ app: AppDirectory) -> Found {
        var found = Found()
        var names: Set<String> = []
        if let pkg = try? app.json("package.json") {
            for section in NodeLocalDependencies.sections {
                for key in pkg[section]?.keys ?? [] {
                    names.insert(key)
                    let spec = pkg[section]?[key]?.stringValue ?? ""
                    if spec.hasPrefix("git") || spec.hasPrefix("github:") || spec.contains("://github.com") {
                        found.vcs = true
                    }
                }
            }
        }
        if let lock = try? app.json("package-lock.json") {
            for key in lock["packages"]?.keys ?? [] {
                guard let r = key.range(of: "node_modules/", options: .backwards) else { continue }
                names.insert(String(key[r.upperBound...]))
            }
        }
        found.names = names.sorted()
        return found
    }
}
