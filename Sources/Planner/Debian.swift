/// Debian as the package source: the default suite, the runtime bases, and the Nix-name → Debian-package map.
/// The per-suite toolchain tables are in Toolchains/DebianSuites.swift.
public enum Debian {
    /// The default build and runtime suite (Debian 13). Other suites: `--base`, `[build] base`, `buildImage`.
    public static let suite = defaultSuite
    public static let buildImage = "debian:trixie"
    public static let runtimeImage = "debian:trixie-slim"
    /// Runtime base without a Debian rootfs, for static binaries: only the deploy outputs, a minimal /etc
    /// (passwd, group, nsswitch.conf) and the build stage's CA bundle and zoneinfo.
    public static let staticRuntimeImage = "scratch"

    /// nixPkgs / nixLibs names → Debian packages. Version-suffixed names (`nodejs_20`, `python313`) map only when
    /// the version is the one the suite ships (`DebianSuite.nixOverrides`).
    public static let nixPackages: [String: [String]] = [
        "nodejs": ["nodejs", "npm"],
        "nodePackages.npm": ["npm"], "python3": ["python3"],
        "python3Full": ["python3-full"], "python311Packages.pip": ["python3-pip"],
        "python3Packages.pip": ["python3-pip"],
        "poetry": ["python3-poetry"], "pipenv": ["pipenv"], "pdm": ["python3-pdm"],
        "rustc": ["rustc"], "cargo": ["cargo"], "ruby": ["ruby", "ruby-dev"], "bundler": ["bundler"],
        "php": ["php-cli"], "phpPackages.composer": ["composer"], "composer": ["composer"],
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
        "gmp": ["libgmp-dev"], "libuuid": ["uuid-dev"], "poppler_utils": ["poppler-utils"],
        "ghostscript": ["ghostscript"],
        "tesseract": ["tesseract-ocr"], "graphviz": ["graphviz"], "libwebp": ["libwebp-dev"],
        "libjpeg": ["libjpeg-dev"],
        "libpng": ["libpng-dev"], "freetype": ["libfreetype-dev"], "cairo": ["libcairo2-dev"],
        "pango": ["libpango1.0-dev"]
    ]

    /// Version-suffixed Nix names for toolchains whose version the suite does not ship.
    static func nixVersionProblem(_ name: String, suite: DebianSuite) -> String? {
        let families: [(prefix: String, tool: String)] = [
            ("nodejs_", "node"), ("nodejs-", "node"), ("python3", "python"), ("go_", "go"), ("ruby_", "ruby"),
            ("php8", "php"), ("php7", "php"), ("jdk", "java"), ("openjdk", "java")
        ]
        for family in families
        where name.hasPrefix(family.prefix) && name.dropFirst(family.prefix.count).first?.isNumber == true {
            let available = suite.toolchains[family.tool]?.map(\.version).joined(separator: ", ") ?? "none"
            return "\(name) asks for a \(family.tool) version Debian \(suite.name) does not ship (it has \(available))"
        }
        return nil
    }

    static func mapNix(_ names: [String], suite: DebianSuite, file: String?, key: String) throws(PlannerError)
        -> [String]
    {
        var out: [String] = []
        for name in names where !Merge.markers.contains(name) {
            if let pkgs = suite.nixOverrides[name] ?? nixPackages[name] {
                out.append(contentsOf: pkgs)
                continue
            }
            if let problem = nixVersionProblem(name, suite: suite) {
                throw PlannerError(
                    .unsupportedToolchain, "\(problem); use the unversioned name or aptPkgs", file: file, key: key)
            }
            throw PlannerError(
                .unknownPackage,
                "no Debian package is known for the Nix package \"\(name)\"; list the Debian package in aptPkgs instead",
                file: file, key: key)
        }
        return out
    }
}
