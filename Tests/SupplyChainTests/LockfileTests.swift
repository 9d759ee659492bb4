import Foundation
import Testing

@testable import SupplyChain

@Suite("Lockfile and dpkg parsers")
struct LockfileTests {
    static func purls(_ kind: Lockfiles.Kind, _ text: String) throws -> [String] {
        try Lockfiles.packages(kind, text, source: kind.rawValue).compactMap(\.purl).sorted()
    }

    @Test("package-lock.json v3 and v1")
    func packageLock() throws {
        let v3 = #"""
            {"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},
             "node_modules/express":{"version":"4.19.2"},
             "node_modules/@types/Node":{"version":"20.1.0","dev":true},
             "node_modules/a/node_modules/debug":{"version":"2.6.9"},
             "node_modules/local":{"resolved":"../local","link":true}}}
            """#
        #expect(
            try Self.purls(.packageLock, v3) == [
                "pkg:npm/%40types/node@20.1.0", "pkg:npm/debug@2.6.9", "pkg:npm/express@4.19.2"
            ])
        let v1 =
            #"{"lockfileVersion":1,"dependencies":{"ms":{"version":"2.1.3"},"a":{"version":"1.0.0","dependencies":{"ms":{"version":"2.0.0"}}}}}"#
        #expect(try Self.purls(.packageLock, v1) == ["pkg:npm/a@1.0.0", "pkg:npm/ms@2.0.0", "pkg:npm/ms@2.1.3"])
        #expect(throws: SupplyChainError.self) { try Lockfiles.packages(.packageLock, "[", source: "x") }
    }

    @Test("pnpm-lock.yaml v5, v6 and v9")
    func pnpm() throws {
        let v6 = """
            lockfileVersion: '6.0'
            dependencies:
              left-pad:
                specifier: ^1.3.0
                version: 1.3.0
            packages:
              /left-pad@1.3.0:
                resolution: {integrity: sha512-x}
              /@babel/core@7.24.0(supports-color@8.1.1):
                resolution: {integrity: sha512-y}
            """
        #expect(try Self.purls(.pnpmLock, v6) == ["pkg:npm/%40babel/core@7.24.0", "pkg:npm/left-pad@1.3.0"])
        let v5 =
            "lockfileVersion: 5.4\npackages:\n  /ms/2.1.3:\n    resolution: {integrity: x}\n  /@scope/pkg/1.0.0_react@18.0.0:\n    dev: false\n"
        #expect(try Self.purls(.pnpmLock, v5) == ["pkg:npm/%40scope/pkg@1.0.0", "pkg:npm/ms@2.1.3"])
        let v9 =
            "lockfileVersion: '9.0'\npackages:\n  'is-odd@3.0.1':\n    resolution: {integrity: x}\nsnapshots:\n  'is-odd@3.0.1': {}\n"
        #expect(try Self.purls(.pnpmLock, v9) == ["pkg:npm/is-odd@3.0.1"])
    }

    @Test("yarn.lock v1 and berry")
    func yarn() throws {
        let v1 = """
            # yarn lockfile v1

            "@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
              version "7.12.13"
              resolved "https://registry.yarnpkg.com/x"
              dependencies:
                "@babel/highlight" "^7.12.13"

            lodash@^4.17.21:
              version "4.17.21"
            """
        #expect(try Self.purls(.yarnLock, v1) == ["pkg:npm/%40babel/code-frame@7.12.13", "pkg:npm/lodash@4.17.21"])
        let berry = """
            __metadata:
              version: 8

            "app@workspace:.":
              version: 0.0.0-use.local
              resolution: "app@workspace:."

            "lodash@npm:^4.17.21":
              version: 4.17.21
              resolution: "lodash@npm:4.17.21"

            "mine@git+https://example.invalid/mine.git":
              version: 1.0.0
              resolution: "mine@https://example.invalid/mine.git#commit=abc"
            """
        #expect(try Self.purls(.yarnLock, berry) == ["pkg:npm/lodash@4.17.21"])
    }

    @Test("poetry.lock, uv.lock, requirements.txt")
    func python() throws {
        let poetry =
            "[[package]]\nname = \"Django_Allauth\"\nversion = \"0.61.1\"\n\n[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\n\n[metadata]\nlock-version = \"2.0\"\n"
        #expect(try Self.purls(.poetryLock, poetry) == ["pkg:pypi/django-allauth@0.61.1", "pkg:pypi/requests@2.31.0"])
        let uv = """
            version = 1
            [[package]]
            name = "app"
            version = "0.1.0"
            source = { editable = "." }

            [[package]]
            name = "flask"
            version = "3.0.3"
            source = { registry = "https://pypi.org/simple" }
            """
        #expect(try Self.purls(.uvLock, uv) == ["pkg:pypi/flask@3.0.3"])
        let req = """
            # pinned
            Flask==3.0.3 \\
                --hash=sha256:abc
            requests[socks]==2.31.0 ; python_version >= "3.8"
            gunicorn>=21
            -r other.txt
            zope.interface==6.0  # trailing comment
            """
        #expect(
            try Self.purls(.requirements, req) == [
                "pkg:pypi/flask@3.0.3", "pkg:pypi/requests@2.31.0", "pkg:pypi/zope-interface@6.0"
            ])
    }

    @Test("Cargo.lock, go.sum, Gemfile.lock, composer.lock")
    func others() throws {
        let cargo =
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab\"\n"
        #expect(try Self.purls(.cargoLock, cargo) == ["pkg:cargo/serde@1.0.200"])
        let gosum = """
            github.com/gin-gonic/gin v1.9.1 h1:abc=
            github.com/gin-gonic/gin v1.9.1/go.mod h1:def=
            golang.org/x/net v0.0.1/go.mod h1:ghi=
            """
        #expect(try Self.purls(.goSum, gosum) == ["pkg:golang/github.com/gin-gonic/gin@v1.9.1"])
        let gems = """
            GEM
              remote: https://rubygems.org/
              specs:
                rack (3.0.9)
                nokogiri (1.16.2-x86_64-linux)
                  racc (~> 1.4)

            PLATFORMS
              x86_64-linux
            """
        #expect(
            try Self.purls(.gemfileLock, gems) == [
                "pkg:gem/nokogiri@1.16.2?platform=x86_64-linux", "pkg:gem/rack@3.0.9"
            ])
        let composer =
            #"{"packages":[{"name":"Monolog/Monolog","version":"v3.5.0"}],"packages-dev":[{"name":"phpunit/phpunit","version":"10.0.0"}]}"#
        #expect(try Self.purls(.composerLock, composer) == ["pkg:composer/monolog/monolog@3.5.0"])
    }

    @Test("dpkg status: installed packages only, source packages, purl encoding")
    func dpkg() throws {
        let status = """
            Package: libc6
            Status: install ok installed
            Architecture: amd64
            Source: glibc
            Version: 2.36-9+deb12u4
            Description: GNU C Library
             multi-line description

            Package: removed
            Status: deinstall ok config-files
            Architecture: amd64
            Version: 1.0

            Package: perl-base
            Status: install ok installed
            Architecture: amd64
            Source: perl (5.36.0-7)
            Version: 1:5.36.0-7+deb12u1
            """
        let pkgs = DpkgStatus.packages(status, distro: "debian-12")
        #expect(pkgs.map(\.name) == ["libc6", "perl-base"])
        #expect(pkgs[0].purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")
        #expect(pkgs[0].sourcePackage == "glibc" && pkgs[0].sourceVersion == nil)
        #expect(pkgs[1].purl == "pkg:deb/debian/perl-base@1%3A5.36.0-7%2Bdeb12u1?arch=amd64&distro=debian-12")
        #expect(pkgs[1].sourcePackage == "perl" && pkgs[1].sourceVersion == "5.36.0-7")
        #expect(OSRelease("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n").distro == "debian-12")
        #expect(OSRelease("ID=debian\nVERSION_CODENAME=trixie\n").distro == "trixie")
    }
}
