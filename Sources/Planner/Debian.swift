/// What Debian bookworm (main + security, as of the 12.x point releases) supplies, checked with
/// `apt-cache policy` / `apt-cache madison`. Toolchains are never downloaded from elsewhere: a request Debian
/// cannot meet is an error that says what is available and how to override.
public struct DebianToolchain: Sendable, Equatable {
    public var name: String
    /// Upstream version Debian ships.
    public var version: String
    /// Debian package version of the main package (used to pin in frozen plans).
    public var pins: [String: String]
    public var buildPackages: [String]
    public var runtimePackages: [String]
    /// PATH entries the toolchain needs.
    public var paths: [String]
    public var note: String?
}

public enum Debian {
    public static let suite = "bookworm"
    public static let buildImage = "debian:bookworm"
    public static let runtimeImage = "debian:bookworm-slim"
    /// Runtime base without a Debian rootfs, for static binaries: only the deploy outputs, a minimal /etc
    /// (passwd, group, nsswitch.conf) and the build stage's CA bundle and zoneinfo.
    public static let staticRuntimeImage = "scratch"

    public static let toolchains: [String: DebianToolchain] = [
        "node": .init(name: "node", version: "18.20.4",
                      pins: ["nodejs": "18.20.4+dfsg-1~deb12u3", "npm": "9.2.0~ds1-1"],
                      buildPackages: ["nodejs", "npm"], runtimePackages: ["nodejs"], paths: [], note: nil),
        "python": .init(name: "python", version: "3.11.2",
                        pins: ["python3": "3.11.2-1+b1", "python3-venv": "3.11.2-1+b1", "python3-pip": "23.0.1+dfsg-1"],
                        buildPackages: ["python3", "python3-venv", "python3-pip"], runtimePackages: ["python3"],
                        paths: [], note: nil),
        "go": .init(name: "go", version: "1.19.8", pins: ["golang-1.19-go": "1.19.8-2"],
                    buildPackages: ["golang-1.19-go", "ca-certificates", "git"], runtimePackages: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.19/bin"],
                    note: "bookworm-backports carries newer Go (golang-1.21, golang-1.22); it is not enabled in the default base"),
        "rust": .init(name: "rust", version: "1.63.0", pins: ["rustc": "1.63.0+dfsg1-2", "cargo": "0.66.0+ds1-1"],
                      buildPackages: ["rustc", "cargo", "pkg-config", "libssl-dev"], runtimePackages: ["ca-certificates"],
                      paths: [], note: "bookworm-backports does not carry a newer rustc"),
        "ruby": .init(name: "ruby", version: "3.1.2", pins: ["ruby3.1": "3.1.2-7+deb12u1", "bundler": "2.3.15-2+deb12u1"],
                      buildPackages: ["ruby", "ruby-dev", "bundler", "build-essential"], runtimePackages: ["ruby"],
                      paths: [], note: nil),
        "php": .init(name: "php", version: "8.2.32", pins: ["php8.2-cli": "8.2.32-1~deb12u1", "composer": "2.5.5-1+deb12u5"],
                     buildPackages: ["php-cli", "composer", "unzip"], runtimePackages: ["php-cli"], paths: [], note: nil),
        "java": .init(name: "java", version: "17.0.21", pins: ["openjdk-17-jdk-headless": "17.0.21.1+2-1~deb12u1"],
                      buildPackages: ["openjdk-17-jdk-headless"], runtimePackages: ["openjdk-17-jre-headless"],
                      paths: [], note: "bookworm packages only OpenJDK 17"),
        "maven": .init(name: "maven", version: "3.8.7", pins: ["maven": "3.8.7-1"], buildPackages: ["maven"],
                       runtimePackages: [], paths: [], note: nil),
        "elixir": .init(name: "elixir", version: "1.14.0", pins: ["elixir": "1.14.0.dfsg-2", "erlang-dev": "1:25.2.3+dfsg-1+deb12u4"],
                        buildPackages: ["elixir", "erlang-dev", "erlang-xmerl", "git"], runtimePackages: ["erlang-base"],
                        paths: [], note: "with Erlang/OTP 25"),
        "clojure": .init(name: "clojure", version: "1.11.1", pins: ["clojure": "1.11.1-2", "leiningen": "2.10.0-2"],
                         buildPackages: ["clojure", "leiningen", "openjdk-17-jdk-headless"],
                         runtimePackages: ["openjdk-17-jre-headless"], paths: [], note: nil),
        "haskell": .init(name: "haskell", version: "9.0.2", pins: ["ghc": "9.0.2-4", "cabal-install": "3.4.1.0-3"],
                         buildPackages: ["ghc", "cabal-install", "zlib1g-dev"], runtimePackages: ["libgmp10", "libffi8"],
                         paths: ["/root/.cabal/bin"], note: "GHC 9.0.2 with cabal-install 3.4.1"),
        "crystal": .init(name: "crystal", version: "1.6.0", pins: ["crystal": "1.6.0+dfsg-3"],
                         buildPackages: ["crystal", "libssl-dev", "libz-dev"], runtimePackages: ["libevent-2.1-7", "libgc1", "libpcre3"],
                         paths: [], note: "shards is not packaged for bookworm"),
        "cobol": .init(name: "cobol", version: "3.1.2", pins: ["gnucobol3": "3.1.2-5+b1"], buildPackages: ["gnucobol3"],
                       runtimePackages: ["libcob4"], paths: [], note: "GnuCOBOL"),
    ]

    /// Toolchains Debian bookworm does not package at all.
    public static let unavailable: [String: String] = [
        "deno": "deno", "dotnet": ".NET SDK", "dart": "the Dart SDK", "swift": "the Swift toolchain", "zig": "zig",
        "gleam": "gleam", "bun": "bun", "sbt": "sbt (needed for Scala builds)", "shards": "shards (Crystal dependencies)",
        "pnpm": "pnpm",
    ]

    static func unavailableError(_ tool: String, provider: String, because: String, file: String?) -> PlannerError {
        let what = unavailable[tool] ?? tool
        return PlannerError(.unsupportedToolchain,
            "\(what) is not packaged for Debian bookworm (needed because \(because)); choose other providers with " +
            "`providers = [...]`, or set `providers = []` and install it in your own [phases.setup] (aptPkgs / cmds), " +
            "or use a Dockerfile",
            file: file)
    }

    /// nixPkgs / nixLibs names → Debian packages. Version-suffixed names (`nodejs_18`, `python311`) map only when
    /// the version is the one bookworm ships.
    public static let nixPackages: [String: [String]] = [
        "nodejs": ["nodejs", "npm"], "nodejs_18": ["nodejs", "npm"], "nodejs-18_x": ["nodejs", "npm"],
        "nodePackages.npm": ["npm"], "yarn": ["yarnpkg"], "python3": ["python3"], "python311": ["python3"],
        "python3Full": ["python3-full"], "python311Packages.pip": ["python3-pip"], "python3Packages.pip": ["python3-pip"],
        "poetry": ["python3-poetry"], "pipenv": ["pipenv"], "pdm": ["python3-pdm"],
        "go": ["golang-1.19-go"], "go_1_19": ["golang-1.19-go"], "rustc": ["rustc"], "cargo": ["cargo"],
        "ruby": ["ruby", "ruby-dev"], "ruby_3_1": ["ruby", "ruby-dev"], "bundler": ["bundler"],
        "php": ["php-cli"], "php82": ["php-cli"], "phpPackages.composer": ["composer"], "composer": ["composer"],
        "jdk": ["openjdk-17-jdk-headless"], "jdk17": ["openjdk-17-jdk-headless"], "jre": ["openjdk-17-jre-headless"],
        "maven": ["maven"], "gradle": ["gradle"], "elixir": ["elixir"], "erlang": ["erlang"], "clojure": ["clojure"],
        "leiningen": ["leiningen"], "ghc": ["ghc"], "cabal-install": ["cabal-install"], "crystal": ["crystal"],
        "gnucobol": ["gnucobol3"], "gcc": ["gcc"], "clang": ["clang"], "gnumake": ["make"], "cmake": ["cmake"],
        "pkg-config": ["pkg-config"], "git": ["git"], "curl": ["curl"], "wget": ["wget"], "openssl": ["libssl-dev"],
        "openssl.dev": ["libssl-dev"], "zlib": ["zlib1g-dev"], "libffi": ["libffi-dev"], "libxml2": ["libxml2-dev"],
        "postgresql": ["postgresql-client", "libpq-dev"], "libpq": ["libpq-dev"], "mysql": ["default-mysql-client"],
        "libmysqlclient": ["default-libmysqlclient-dev"], "sqlite": ["sqlite3", "libsqlite3-dev"],
        "redis": ["redis-tools"], "ffmpeg": ["ffmpeg"], "imagemagick": ["imagemagick"], "vips": ["libvips-dev"],
        "chromium": ["chromium"], "nginx": ["nginx"], "caddy": ["caddy"], "jq": ["jq"], "unzip": ["unzip"],
        "zip": ["zip"], "gzip": ["gzip"], "bash": ["bash"], "cacert": ["ca-certificates"], "tzdata": ["tzdata"],
        "gmp": ["libgmp-dev"], "libuuid": ["uuid-dev"], "poppler_utils": ["poppler-utils"], "ghostscript": ["ghostscript"],
        "tesseract": ["tesseract-ocr"], "graphviz": ["graphviz"], "libwebp": ["libwebp-dev"], "libjpeg": ["libjpeg-dev"],
        "libpng": ["libpng-dev"], "freetype": ["libfreetype-dev"], "cairo": ["libcairo2-dev"], "pango": ["libpango1.0-dev"],
    ]

    /// Version-suffixed Nix names for toolchains whose version bookworm does not ship.
    static func nixVersionProblem(_ name: String) -> String? {
        let families: [(prefix: String, tool: String)] = [
            ("nodejs_", "node"), ("nodejs-", "node"), ("python3", "python"), ("go_", "go"), ("ruby_", "ruby"),
            ("php8", "php"), ("php7", "php"), ("jdk", "java"), ("openjdk", "java"),
        ]
        for family in families where name.hasPrefix(family.prefix) && name.dropFirst(family.prefix.count).first?.isNumber == true {
            let available = toolchains[family.tool]!.version
            return "\(name) asks for a \(family.tool) version bookworm does not ship (it has \(available))"
        }
        return nil
    }

    static func mapNix(_ names: [String], file: String?, key: String) throws(PlannerError) -> [String] {
        var out: [String] = []
        for name in names where !Merge.markers.contains(name) {
            if let pkgs = nixPackages[name] { out.append(contentsOf: pkgs); continue }
            if let problem = nixVersionProblem(name) {
                throw PlannerError(.unsupportedToolchain, "\(problem); use the unversioned name or aptPkgs", file: file, key: key)
            }
            throw PlannerError(.unknownPackage,
                "no Debian package is known for the Nix package \"\(name)\"; list the Debian package in aptPkgs instead",
                file: file, key: key)
        }
        return out
    }
}

/// A version requirement as written in manifests: `18`, `18.x`, `>=16 <21`, `^18.2`, `~3.11`, `3.11.*`,
/// `>=3.8,<4`, `~=3.11`, `a || b`, `*`, `lts/*`, `latest`, `node`.
public struct VersionRequirement: Sendable, Equatable {
    public let text: String
    public init(_ text: String) { self.text = text.trimmed(" \t\r\n") }

    /// Whether `version` (e.g. "18.20.4") satisfies the requirement. A bare version without an operator matches by
    /// its given components ("3.11.4" matches 3.11.x: Debian ships one patch release per minor).
    public func matches(_ version: String) -> Bool {
        let v = Self.parts(version)
        let alternatives = text.split(separator: "|").map { $0.trimmed(" ") }.filter { !$0.isEmpty }
        if alternatives.isEmpty { return true }
        return alternatives.contains { alt in
            let comparators = Self.tokens(alt)
            return comparators.allSatisfy { Self.check($0, v) }
        }
    }

    static func tokens(_ s: String) -> [String] {
        // Split on spaces and commas, re-joining an operator separated from its version (">= 16").
        var out: [String] = []
        for raw in s.split(whereSeparator: { $0 == " " || $0 == "," }) {
            let t = String(raw)
            if let last = out.last, ["<", "<=", ">", ">=", "=", "==", "^", "~", "~=", "!="].contains(last) {
                out[out.count - 1] = last + t
            } else {
                out.append(t)
            }
        }
        return out
    }

    static func parts(_ s: String) -> [Int] {
        s.split(separator: ".").prefix(3).map { Int($0.prefix(while: { $0.isNumber })) ?? 0 }
    }

    static func check(_ comparator: String, _ v: [Int]) -> Bool {
        var c = comparator
        if ["*", "x", "latest", "lts/*", "node", "stable", "system", "lts"].contains(c.lowercased()) { return true }
        if c.lowercased().hasPrefix("lts/") { return true }
        if c.hasPrefix("v") { c.removeFirst() }
        let ops = ["~=", "==", ">=", "<=", "!=", ">", "<", "=", "^", "~"]
        let op = ops.first { c.hasPrefix($0) } ?? ""
        var rest = String(c.dropFirst(op.count))
        if rest.hasPrefix("v") { rest.removeFirst() }
        let comps = rest.split(separator: ".").map(String.init)
        let given = comps.prefix { Int($0.prefix(while: { $0.isNumber })) != nil && !$0.isEmpty && $0 != "x" && $0 != "*" }
        let nums = given.map { Int($0.prefix(while: { $0.isNumber }))! }
        if nums.isEmpty { return op.isEmpty || op == "=" || op == "==" ? comps.first.map { ["x", "*"].contains($0) } ?? false : false }
        func cmp(_ a: [Int], _ b: [Int]) -> Int {
            for i in 0..<3 {
                let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
                if x != y { return x < y ? -1 : 1 }
            }
            return 0
        }
        let prefixEqual = Array(v.prefix(nums.count)) == nums
        switch op {
        case "", "=", "==": return prefixEqual
        case "!=": return !prefixEqual
        case ">=": return cmp(v, nums) >= 0
        case "<=": return cmp(v, nums) <= 0 || prefixEqual
        case ">": return cmp(v, nums) > 0 && !prefixEqual
        case "<": return cmp(v, nums) < 0
        case "^":
            let lead = nums.firstIndex { $0 != 0 } ?? (nums.count - 1)
            return cmp(v, nums) >= 0 && Array(v.prefix(lead + 1)) == Array(nums.prefix(lead + 1))
        case "~":
            return cmp(v, nums) >= 0 && Array(v.prefix(min(2, nums.count))) == Array(nums.prefix(min(2, nums.count)))
        case "~=":
            let keep = max(1, nums.count - 1)
            return cmp(v, nums) >= 0 && Array(v.prefix(keep)) == Array(nums.prefix(keep))
        default: return false
        }
    }
}

/// One version request with where it came from.
struct VersionRequest: Sendable {
    var value: String
    var source: String
    /// Line of the request in its file, when known.
    var line: Int? = nil
}

enum VersionResolver {
    /// Picks the highest-priority request and checks it against what Debian ships.
    static func resolve(_ tool: String, requests: [VersionRequest?], file: String? = nil) throws(PlannerError) -> Toolchain {
        guard let chain = Debian.toolchains[tool] else {
            throw PlannerError(.unsupportedToolchain, "no Debian toolchain is known for \(tool)")
        }
        let request = requests.compactMap { $0 }.first
        if let request {
            var requirement = VersionRequirement(request.value)
            // A bare full version ("3.11.9", "v18.19.0") asks for that release line: Debian ships one patch release
            // per line, so match on the significant components (major for node/java, major.minor otherwise).
            let bare = request.value.trimmed(" v")
            if bare.allSatisfy({ $0.isNumber || $0 == "." }) && bare.split(separator: ".").count > 1 {
                let significant = ["node", "java"].contains(tool) ? 1 : 2
                requirement = VersionRequirement(bare.split(separator: ".").prefix(significant).joined(separator: "."))
            }
            if !requirement.matches(chain.version) {
                var message = "\(tool) \(request.value) was requested by \(request.source), but Debian \(Debian.suite) " +
                    "ships \(tool) \(chain.version) only"
                if let note = chain.note { message += " (\(note))" }
                let line = ["node", "java"].contains(tool) ? String(chain.version.split(separator: ".")[0])
                    : chain.version.split(separator: ".").prefix(2).joined(separator: ".")
                message += "; relax the requirement, or build with what Debian ships by overriding it: " +
                    "NIXPACKS_\(envName(tool))_VERSION=\(line) or [config.\(tool)] version = \"\(line)\"; " +
                    "or use a Dockerfile"
                // "package.json engines.node" → file package.json, key engines.node; ".nvmrc" → file; env → key.
                var errFile = file
                var errKey: String? = request.source
                if request.source.hasPrefix("NIXPACKS_") || request.source.hasPrefix("OCIFORGE_") || request.source.hasPrefix("[config.")
                    || request.source.hasPrefix("variables.") {
                    errKey = request.source.hasPrefix("[config.") ? "config.\(tool).version" : request.source
                } else if let space = request.source.firstIndex(of: " ") {
                    errFile = String(request.source[..<space])
                    errKey = String(request.source[request.source.index(after: space)...])
                } else {
                    errFile = request.source
                    errKey = nil
                }
                throw PlannerError(.unsupportedToolchain, message, file: errFile, line: request.line, key: errKey)
            }
        }
        return Toolchain(name: tool, requested: request?.value, source: request?.source ?? "default",
                         version: chain.version, packages: chain.buildPackages)
    }

    static func envName(_ tool: String) -> String {
        switch tool {
        case "java": return "JDK"
        default: return tool.uppercased()
        }
    }
}
