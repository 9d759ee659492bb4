import Foundation
import Testing

@testable import BuildEngine

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct BesideThreadTests {
    static func nice() -> Int32 { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

    @Test("the body's result or error; a nicer thread, and the processes it starts inherit its nice value")
    func resultErrorAndNice() throws {
        #expect(try BesideThread { 42 }.wait().get() == 42)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try BesideThread { () throws -> Int in throw Boom() }.wait().get() }

        let caller = Self.nice()
        let seen = try BesideThread(niceIncrement: 5) { () throws -> (Int32, String) in
            let p = Process()
            let out = Pipe()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "cut -d' ' -f19 /proc/self/stat"]  // field 19: nice
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (Self.nice(), text.trimmingCharacters(in: .whitespacesAndNewlines))
        }.wait().get()
        #expect(seen.0 == min(19, caller + 5))
        #expect(seen.1 == String(min(19, caller + 5)), "a child of the nicer thread: \(seen.1)")
        #expect(Self.nice() == caller, "the caller's own nice value is unchanged")
    }
}
