import Foundation
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The extra apt suites a plan's build stage installs from (`trixie-backports` for go 1.25+ or a newer rustc):
/// one deb822 sources file per suite, on the mirror the base's own suite comes from, signed by the Debian archive
/// keyring the base already has. Packages name their suite (`golang-1.26-go/trixie-backports`, or `=version` in a
/// frozen plan), so a backports archive, `NotAutomatic` in its Release file, never supplies anything else.
struct AptSuiteSources: Equatable, Sendable {
    static let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    static let directory = "etc/apt/sources.list.d"

    /// The suites, sorted, without the base suite itself.
    var suites: [String]
    /// The base suite's mirror (`http://deb.debian.org/debian`), read from the base's apt sources.
    var mirror: String

    /// `ociforge-<suite>.sources`, relative to the root.
    static func fileName(_ suite: String) -> String { "\(directory)/ociforge-\(suite).sources" }

    /// One deb822 stanza for `suite`.
    func stanza(_ suite: String) -> String {
        "Types: deb\nURIs: \(mirror)\nSuites: \(suite)\nComponents: main\nSigned-By: \(Self.keyring)\n"
    }

    /// The suites the plan needs beside `plan.suite`: `aptSuites` and any `name/suite` of a build step.
    static func needed(by plan: ResolvedPlan) -> [String] {
        var suites = Set(plan.aptSuites)
        for step in plan.steps {
            for p in step.aptPackages {
                guard let slash = p.firstIndex(of: "/"), !p.contains("=") else { continue }
                suites.insert(String(p[p.index(after: slash)...]))
            }
        }
        suites.remove(plan.suite)
        return suites.sorted()
    }

    /// Valid suite names only: letters, digits and `-` (they become file names and deb822 values).
    static func validate(_ suite: String) throws(BuildEngineError) {
        guard !suite.isEmpty, suite.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }) else {
            throw BuildEngineError(
                .invalidInput, "apt suite '\(suite)' in the plan is not a suite name (letters, digits and '-')")
        }
    }

    /// The mirror the base's apt sources use for `suite`: `deb [options] URI suite components` lines of
    /// /etc/apt/sources.list and `URIs:`/`Suites:` stanzas of /etc/apt/sources.list.d/*.sources.
    static func mirror(rootfs: String, suite: String) -> String? {
        if let text = try? String(contentsOfFile: rootfs + "/etc/apt/sources.list", encoding: .utf8),
            let m = oneLineMirror(text, suite: suite)
        {
            return m
        }
        let dir = rootfs + "/" + directory
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        for name in names where name.hasSuffix(".sources") && !name.hasPrefix("ociforge-") {
            if let text = try? String(contentsOfFile: dir + "/" + name, encoding: .utf8),
                let m = deb822Mirror(text, suite: suite)
            {
                return m
            }
        }
        return nil
    }

    static func oneLineMirror(_ text: String, suite: String) -> String? {
        for raw in text.split(separator: "\n") {
            var words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.first == "deb" else { continue }
            words.removeFirst()
            if words.first?.hasPrefix("[") == true {
                while let w = words.first, !w.hasSuffix("]") { words.removeFirst() }
                if !words.isEmpty { words.removeFirst() }
            }
            if words.count >= 2, words[1] == suite { return trimmed(words[0]) }
        }
        return nil
    }

    static func deb822Mirror(_ text: String, suite: String) -> String? {
        for stanza in text.components(separatedBy: "\n\n") {
            var fields: [String: [String]] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix("#") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].split(separator: " ").map(
                    String.init)
            }
            if fields["types"]?.contains("deb") == true, fields["suites"]?.contains(suite) == true,
                let uri = fields["uris"]?.first
            {
                return trimmed(uri)
            }
        }
        return nil
    }

    private static func trimmed(_ uri: String) -> String {
        var u = uri
        while u.hasSuffix("/") { u.removeLast() }
        return u
    }
}

extension ImageBuilder {
    /// The build stage's layer enabling the plan's extra apt suites (nil when it needs none), on top of the base.
    func aptSuitesItem(rootfs: String, parent: Item, rec: Recorder) throws -> Item? {
        let suites = AptSuiteSources.needed(by: plan)
        guard !suites.isEmpty else { return nil }
        for s in suites { try AptSuiteSources.validate(s) }
        guard let mirror = AptSuiteSources.mirror(rootfs: rootfs, suite: plan.suite) else {
            throw BuildEngineError(
                .invalidInput,
                "the plan installs packages from \(suites.joined(separator: ", ")), but the build base has no apt "
                    + "source for its suite \(plan.suite) to take the mirror from (/etc/apt/sources.list or "
                    + "\(AptSuiteSources.directory)/*.sources): use a debian:\(plan.suite) base")
        }
        guard FileManager.default.fileExists(atPath: rootfs + AptSuiteSources.keyring) else {
            throw BuildEngineError(
                .invalidInput,
                "the plan installs packages from \(suites.joined(separator: ", ")), which are signed by the Debian "
                    + "archive keyring, but the build base has no \(AptSuiteSources.keyring): use a debian:"
                    + "\(plan.suite) base (the debian-archive-keyring package)")
        }
        let sources = AptSuiteSources(suites: suites, mirror: mirror)
        let key = CacheKey.of(["apt-suites", parent.key] + suites.map { sources.stanza($0) })
        return try cachedOrBuilt(
            key: key, stage: "build", phase: "apt-suites",
            createdBy: "ociforge apt suites \(suites.joined(separator: " ")) from \(mirror)", rec: rec,
            isCommand: false
        ) {
            try runner.stagedLayer("apt-suites", rec: rec) { staging in
                try makeDirectories(staging + "/" + AptSuiteSources.directory)
                for suite in suites {
                    let path = staging + "/" + AptSuiteSources.fileName(suite)
                    guard
                        FileManager.default.createFile(
                            atPath: path, contents: Data(sources.stanza(suite).utf8),
                            attributes: [.posixPermissions: 0o644])
                    else {
                        throw BuildEngineError(.staging, "cannot write \(path)")
                    }
                    chmod(path, 0o644)
                }
                try chownToNamespaceRoot(staging)
            }
        }
    }
}
