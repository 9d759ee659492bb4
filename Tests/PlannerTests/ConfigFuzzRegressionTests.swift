import Foundation
import Testing

@testable import Planner

/// Inputs that crashed the `config` fuzz target (scripts/fuzz): Fixtures/fuzz-regressions/config/*, replayed the
/// way the target reads them (first byte: 0 TOML, 1 JSON; the rest decoded as UTF-8 with replacement).
@Suite struct ConfigFuzzRegressionTests {
    static let root = FuzzRegressionInputs.directory("config")

    @Test func regressionInputsAreRefusedWithoutCrashing() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root).sorted()
        #expect(!names.isEmpty)
        for name in names {
            let bytes = try #require(FileManager.default.contents(atPath: Self.root + "/" + name))
            guard let first = bytes.first else { continue }
            let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
            let format: ConfigFormat = first % 2 == 0 ? .toml : .json
            _ = try? ConfigParser.parse(text, format: format, file: name)
        }
    }

    /// Non-ASCII outside strings and comments is a syntax error with a position; inside them it is fine.
    @Test func nonASCIIOutsideStringsIsASyntaxError() throws {
        let e = #expect(throws: PlannerError.self) {
            try ConfigParser.parse(
                "[phases.x]\ncmds = [\"a\"]\n[\u{FFFD}ases.setup]\n", format: .toml, file: "ociforge.toml")
        }
        #expect(e?.code == .syntax && e?.line == 3 && e?.column == 2, "\(String(describing: e))")
        let ok = try ConfigParser.parse(
            "# caf\u{E9}\n[phases.x]\ncmds = [\"\u{E9}cho\", '''\n\u{2603}\n''']\nname = \"a \\\" \u{E9}\"\n",
            format: .toml, file: "ociforge.toml")
        _ = ok
        // Table headers whose first character is not a key character (each aborted toml++ before the check).
        for header in ["[[[a]]", "[[ [a]]", "[[\u{1}]]", "[[=]]", "[=]", "[{]", "[\u{1}]"] {
            let e = #expect(throws: PlannerError.self) {
                try ConfigParser.parse("x = 1\n  \(header)\n", format: .toml, file: "ociforge.toml")
            }
            #expect(
                e?.code == .syntax && e?.line == 2 && e?.message.contains("table header") == true,
                "\(header): \(String(describing: e))")
        }
        for value in ["a = [}", "a = [1, }", "a = {b = [}]}", "a = {b = 1]"] {
            let e = #expect(throws: PlannerError.self) {
                try ConfigParser.parse(value + "\n", format: .toml, file: "ociforge.toml")
            }
            #expect(e?.code == .syntax && e?.message.contains("closes") == true, "\(value): \(String(describing: e))")
        }
        // A date, a space and one digit (toml++ asserted on it); real date-times still parse.
        for value in [
            "e = 2023-04-01 2,", "e = [2023-04-01 2]", "e = {a=2023-04-01 0}", "e = 2023-04-01 2", "e =2024-25-0R 2 ",
            "e = 2_024-04-01 2#", "e = [1, 2024-0x-01 3]"
        ] {
            let e = #expect(throws: PlannerError.self) {
                try ConfigParser.parse(value + "\n", format: .toml, file: "ociforge.toml")
            }
            #expect(
                e?.code == .syntax && e?.message.contains("date-time") == true, "\(value): \(String(describing: e))")
        }
        _ = try ConfigParser.parse(
            "a = 1979-05-27 07:32:00\nb = 2023-04-01\nc = \"2023-04-01 2\"\nd = [2023-04-01, 2]\n", format: .toml,
            file: "ociforge.toml")
        // A NUL escape in a key (TOMLKit's table iterator crashed on it) or a value: refused with its position.
        for doc in ["[\"\u{FFFD}\\u0000\"]\n", "a.\"b\\U00000000\" = 1\n", "x = 1\ny = \"a\\u0000\"\n"] {
            let e = #expect(throws: PlannerError.self) {
                try ConfigParser.parse(doc, format: .toml, file: "ociforge.toml")
            }
            #expect(e?.code == .syntax && e?.message.contains("U+0000") == true, "\(doc): \(String(describing: e))")
        }
        _ = try ConfigParser.parse("a = \"\\u0001 \\\\u0000\"\n", format: .toml, file: "ociforge.toml")
        // Arrays and inline tables spanning lines are values, not headers.
        let values = try ConfigParser.parse(
            "a = [\n  [1, 2],\n  [ \"x\" ],\n]\nb = [\n{ c = 1 },\n]\n[t]\nd = 1\n",
            format: .toml, file: "ociforge.toml")
        _ = values
    }
}
