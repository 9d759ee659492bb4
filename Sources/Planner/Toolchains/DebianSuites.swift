/// One way a Debian suite supplies a toolchain: its packages at one upstream version.
public struct DebianToolchain: Sendable, Equatable {
    public var name: String
    /// Upstream version Debian ships (from the main package's Debian version).
    public var version: String
    /// The archive that carries it: the suite itself or its backports (`trixie-backports`).
    public var suite: String
    /// Debian package versions (used to pin in frozen plans).
    public var pins: [String: String]
    public var buildPackages: [String]
    public var runtimePackages: [String]
    /// PATH entries the toolchain needs.
    public var paths: [String]
    public var note: String?

    init(
        _ name: String, _ version: String, suite: String, pins: [String: String], build: [String], runtime: [String],
        paths: [String] = [], note: String? = nil
    ) {
        self.name = name
        self.version = version
        self.suite = suite
        self.pins = pins
        self.buildPackages = build
        self.runtimePackages = runtime
        self.paths = paths
        self.note = note
    }
}

/// What one Debian release supplies. Checked on 2026-12-04 with `apt-cache madison` against deb.debian.org
/// (main, -updates, -security, -backports); see docs/planner.md "Debian toolchain tables".
public struct DebianSuite: Sendable, Equatable {
    public var name: String
    public var release: String
    /// Per tool, the default first (the suite's own package), then alternatives (other main packages,
    /// backports), each a separate version source.
    public var toolchains: [String: [DebianToolchain]]
    /// Tools the suite does not package at all.
    public var missing: Set<String>
    /// Nix names whose Debian package differs per suite.
    public var nixOverrides: [String: [String]]

    public var buildImage: String { "debian:\(name)" }
    public var runtimeImage: String { "debian:\(name)-slim" }
    public var backports: String { "\(name)-backports" }

    /// The suite's default toolchain for a tool.
    public func standard(_ tool: String) -> DebianToolchain? { toolchains[tool]?.first }
}

extension Debian {
    public static let defaultSuite = "trixie"

    public static let suites: [String: DebianSuite] = ["bookworm": bookworm, "trixie": trixie]

    /// `debian:trixie`, `debian:bookworm-slim` → the suite's tables; nil for other bases.
    public static func suite(forImage image: String) -> DebianSuite? {
        guard image.hasPrefix("debian:") else { return nil }
        var name = String(image.dropFirst(7))
        if name.hasSuffix("-slim") { name = String(name.dropLast(5)) }
        return suites[name]
    }

    static let trixie = DebianSuite(
        name: "trixie", release: "13",
        toolchains: [
            "node": [
                .init(
                    "node", "20.19.2", suite: "trixie",
                    pins: ["nodejs": "20.19.2+dfsg-1+deb13u3", "npm": "9.2.0~ds1-3"],
                    build: ["nodejs", "npm"], runtime: ["nodejs"])
            ],
            "python": [
                .init(
                    "python", "3.13.5", suite: "trixie",
                    pins: ["python3": "3.13.5-1", "python3-venv": "3.13.5-1", "python3-pip": "25.1.1+dfsg-1"],
                    build: ["python3", "python3-venv", "python3-pip"], runtime: ["python3"])
            ],
            "go": [
                .init(
                    "go", "1.24.4", suite: "trixie", pins: ["golang-1.24-go": "1.24.4-1"],
                    build: ["golang-1.24-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.24/bin"]),
                .init(
                    "go", "1.25.12", suite: "trixie-backports", pins: ["golang-1.25-go": "1.25.12-1~bpo13+1"],
                    build: ["golang-1.25-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.25/bin"]),
                .init(
                    "go", "1.26.11", suite: "trixie-backports", pins: ["golang-1.26-go": "1.26.11-1~bpo13+1"],
                    build: ["golang-1.26-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.26/bin"]),
                .init(
                    "go", "1.27.4", suite: "trixie-backports", pins: ["golang-1.27-go": "1.27.4-1~bpo13+1"],
                    build: ["golang-1.27-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.27/bin"])
            ],
            "rust": [
                .init(
                    "rust", "1.85.1", suite: "trixie",
                    pins: ["rustc": "1.85.1+dfsg1-1+deb13u1", "cargo": "1.85.1+dfsg1-1+deb13u1"],
                    build: ["rustc", "cargo", "pkg-config", "libssl-dev"], runtime: ["ca-certificates"]),
                .init(
                    "rust", "1.97.1", suite: "trixie-backports",
                    pins: ["rustc": "1.97.1+dfsg1-1~bpo13+1", "cargo": "1.97.1+dfsg1-1~bpo13+1"],
                    build: ["rustc", "cargo", "pkg-config", "libssl-dev"], runtime: ["ca-certificates"])
            ],
            "ruby": [
                .init(
                    "ruby", "3.3.14", suite: "trixie", pins: ["ruby3.3": "3.3.14-0+deb13u1", "bundler": "2.6.7-2"],
                    build: ["ruby", "ruby-dev", "bundler", "build-essential"], runtime: ["ruby"])
            ],
            "php": [
                .init(
                    "php", "8.4.28", suite: "trixie",
                    pins: ["php8.4-cli": "8.4.28-1~deb13u1", "composer": "2.8.8-1+deb13u4"],
                    build: ["php-cli", "composer", "unzip"], runtime: ["php-cli"])
            ],
            "java": [
                .init(
                    "java", "21.0.13.1", suite: "trixie", pins: ["openjdk-21-jdk-headless": "21.0.13.1+2-1~deb13u1"],
                    build: ["openjdk-21-jdk-headless"], runtime: ["openjdk-21-jre-headless"]),
                .init(
                    "java", "25.0.5.1", suite: "trixie", pins: ["openjdk-25-jdk-headless": "25.0.5.1+2-1~deb13u1"],
                    build: ["openjdk-25-jdk-headless"], runtime: ["openjdk-25-jre-headless"])
            ],
            "maven": [
                .init("maven", "3.9.9", suite: "trixie", pins: ["maven": "3.9.9-1"], build: ["maven"], runtime: [])
            ],
            "elixir": [
                .init(
                    "elixir", "1.18.3", suite: "trixie",
                    pins: ["elixir": "1.18.3.dfsg-1", "erlang-dev": "1:27.3.4.1+dfsg-1+deb13u4"],
                    build: ["elixir", "erlang-dev", "erlang-xmerl", "git"], runtime: ["erlang-base"],
                    note: "with Erlang/OTP 27")
            ],
            "erlang": [
                .init(
                    "erlang", "27.3.4.1", suite: "trixie", pins: ["erlang-nox": "1:27.3.4.1+dfsg-1+deb13u4"],
                    build: ["erlang-nox", "erlang-dev"], runtime: ["erlang-nox"])
            ],
            "clojure": [
                .init(
                    "clojure", "1.12.0", suite: "trixie", pins: ["clojure": "1.12.0-1", "leiningen": "2.10.0-5"],
                    build: ["clojure", "leiningen", "openjdk-21-jdk-headless"], runtime: ["openjdk-21-jre-headless"])
            ],
            "haskell": [
                .init(
                    "haskell", "9.6.6", suite: "trixie", pins: ["ghc": "9.6.6-4", "cabal-install": "3.10.3.0-1+b1"],
                    build: ["ghc", "cabal-install", "zlib1g-dev"], runtime: ["libgmp10", "libffi8"],
                    paths: ["/root/.local/bin"], note: "GHC 9.6.6 with cabal-install 3.10.3")
            ],
            "crystal": [
                .init(
                    "crystal", "1.14.0", suite: "trixie", pins: ["crystal": "1.14.0+dfsg-1", "shards": "0.19.0-1"],
                    build: ["crystal", "shards", "libssl-dev", "libz-dev"],
                    runtime: ["libevent-2.1-7t64", "libgc1", "libpcre2-8-0"])
            ],
            "cobol": [
                .init(
                    "cobol", "3.2", suite: "trixie", pins: ["gnucobol3": "3.2-3"], build: ["gnucobol3"],
                    runtime: ["libcob4t64"],
                    note: "GnuCOBOL")
            ],
            "yarn": [
                .init(
                    "yarn", "4.1.0", suite: "trixie", pins: ["yarnpkg": "4.1.0+dfsg-1"], build: ["yarnpkg"], runtime: []
                )
            ],
            "swift": [
                .init(
                    "swift", "6.0.3", suite: "trixie", pins: ["swiftlang": "6.0.3-2", "libswiftlang": "6.0.3-2"],
                    build: ["swiftlang", "libswiftlang", "libc6-dev", "libstdc++-14-dev"], runtime: [],
                    paths: ["/usr/libexec/swift/bin"],
                    note: "swiftlang installs to /usr/libexec/swift (Debian's `swift` is OpenStack Swift); it links "
                        + "with the C library's and libstdc++'s dev files (gcc's recommends, not installed by default); "
                        + "executables link the Swift runtime statically (--static-swift-stdlib)")
            ]
        ], missing: ["deno", "dotnet", "dart", "zig", "gleam", "bun", "sbt", "pnpm"],
        nixOverrides: [
            "go": ["golang-1.24-go"], "go_1_24": ["golang-1.24-go"], "nodejs_20": ["nodejs", "npm"],
            "nodejs-20_x": ["nodejs", "npm"], "python313": ["python3"], "ruby_3_3": ["ruby", "ruby-dev"],
            "php84": ["php-cli"], "jdk": ["openjdk-21-jdk-headless"], "jdk21": ["openjdk-21-jdk-headless"],
            "jre": ["openjdk-21-jre-headless"], "yarn": ["yarnpkg"]
        ])

    static let bookworm = DebianSuite(
        name: "bookworm", release: "12",
        toolchains: [
            "node": [
                .init(
                    "node", "18.20.4", suite: "bookworm",
                    pins: ["nodejs": "18.20.4+dfsg-1~deb12u3", "npm": "9.2.0~ds1-1"],
                    build: ["nodejs", "npm"], runtime: ["nodejs"])
            ],
            "python": [
                .init(
                    "python", "3.11.2", suite: "bookworm",
                    pins: ["python3": "3.11.2-1+b1", "python3-venv": "3.11.2-1+b1", "python3-pip": "23.0.1+dfsg-1"],
                    build: ["python3", "python3-venv", "python3-pip"], runtime: ["python3"])
            ],
            "go": [
                .init(
                    "go", "1.19.8", suite: "bookworm", pins: ["golang-1.19-go": "1.19.8-2"],
                    build: ["golang-1.19-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.19/bin"]),
                .init(
                    "go", "1.21.13", suite: "bookworm-backports", pins: ["golang-1.21-go": "1.21.13-1~bpo12+1"],
                    build: ["golang-1.21-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.21/bin"]),
                .init(
                    "go", "1.22.12", suite: "bookworm-backports", pins: ["golang-1.22-go": "1.22.12-3~bpo12+1"],
                    build: ["golang-1.22-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.22/bin"]),
                .init(
                    "go", "1.23.5", suite: "bookworm-backports", pins: ["golang-1.23-go": "1.23.5-1~bpo12+1"],
                    build: ["golang-1.23-go", "ca-certificates", "git"], runtime: ["ca-certificates"],
                    paths: ["/usr/lib/go-1.23/bin"])
            ],
            "rust": [
                .init(
                    "rust", "1.63.0", suite: "bookworm", pins: ["rustc": "1.63.0+dfsg1-2", "cargo": "0.66.0+ds1-1"],
                    build: ["rustc", "cargo", "pkg-config", "libssl-dev"], runtime: ["ca-certificates"])
            ],
            "ruby": [
                .init(
                    "ruby", "3.1.2", suite: "bookworm",
                    pins: ["ruby3.1": "3.1.2-7+deb12u1", "bundler": "2.3.15-2+deb12u1"],
                    build: ["ruby", "ruby-dev", "bundler", "build-essential"], runtime: ["ruby"])
            ],
            "php": [
                .init(
                    "php", "8.2.32", suite: "bookworm",
                    pins: ["php8.2-cli": "8.2.32-1~deb12u1", "composer": "2.5.5-1+deb12u5"],
                    build: ["php-cli", "composer", "unzip"], runtime: ["php-cli"])
            ],
            "java": [
                .init(
                    "java", "17.0.21", suite: "bookworm", pins: ["openjdk-17-jdk-headless": "17.0.21.1+2-1~deb12u1"],
                    build: ["openjdk-17-jdk-headless"], runtime: ["openjdk-17-jre-headless"],
                    note: "bookworm packages only OpenJDK 17")
            ],
            "maven": [
                .init("maven", "3.8.7", suite: "bookworm", pins: ["maven": "3.8.7-1"], build: ["maven"], runtime: [])
            ],
            "elixir": [
                .init(
                    "elixir", "1.14.0", suite: "bookworm",
                    pins: ["elixir": "1.14.0.dfsg-2", "erlang-dev": "1:25.2.3+dfsg-1+deb12u4"],
                    build: ["elixir", "erlang-dev", "erlang-xmerl", "git"], runtime: ["erlang-base"],
                    note: "with Erlang/OTP 25")
            ],
            "erlang": [
                .init(
                    "erlang", "25.2.3", suite: "bookworm", pins: ["erlang-nox": "1:25.2.3+dfsg-1+deb12u4"],
                    build: ["erlang-nox", "erlang-dev"], runtime: ["erlang-nox"])
            ],
            "clojure": [
                .init(
                    "clojure", "1.11.1", suite: "bookworm", pins: ["clojure": "1.11.1-2", "leiningen": "2.10.0-2"],
                    build: ["clojure", "leiningen", "openjdk-17-jdk-headless"], runtime: ["openjdk-17-jre-headless"])
            ],
            "haskell": [
                .init(
                    "haskell", "9.0.2", suite: "bookworm", pins: ["ghc": "9.0.2-4", "cabal-install": "3.4.1.0-3"],
                    build: ["ghc", "cabal-install", "zlib1g-dev"], runtime: ["libgmp10", "libffi8"],
                    paths: ["/root/.cabal/bin"], note: "GHC 9.0.2 with cabal-install 3.4.1")
            ],
            "crystal": [
                .init(
                    "crystal", "1.6.0", suite: "bookworm", pins: ["crystal": "1.6.0+dfsg-3"],
                    build: ["crystal", "libssl-dev", "libz-dev"], runtime: ["libevent-2.1-7", "libgc1", "libpcre3"],
                    note: "shards is not packaged for bookworm")
            ],
            "cobol": [
                .init(
                    "cobol", "3.1.2", suite: "bookworm", pins: ["gnucobol3": "3.1.2-5+b1"], build: ["gnucobol3"],
                    runtime: ["libcob4"], note: "GnuCOBOL")
            ],
            "yarn": [
                .init(
                    "yarn", "1.22.19", suite: "bookworm", pins: ["yarnpkg": "1.22.19+~cs24.27.18-2+deb12u1"],
                    build: ["yarnpkg"],
                    runtime: [])
            ]
        ], missing: ["deno", "dotnet", "dart", "swift", "zig", "gleam", "bun", "sbt", "pnpm", "shards"],
        nixOverrides: [
            "go": ["golang-1.19-go"], "go_1_19": ["golang-1.19-go"], "nodejs_18": ["nodejs", "npm"],
            "nodejs-18_x": ["nodejs", "npm"], "python311": ["python3"], "ruby_3_1": ["ruby", "ruby-dev"],
            "php82": ["php-cli"], "jdk": ["openjdk-17-jdk-headless"], "jdk17": ["openjdk-17-jdk-headless"],
            "jre": ["openjdk-17-jre-headless"], "yarn": ["yarnpkg"]
        ])
}
