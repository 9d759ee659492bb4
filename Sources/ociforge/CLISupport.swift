import ArgumentParser
import Foundation
import OCIWriter

/// Writes a line to standard error.
func printError(_ s: String) {
    FileHandle.standardError.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8))
}

/// Runs `body`, turning the modules' errors into one `error: …` line on stderr and exit status 1.
/// ExitCode and CleanExit pass through; a ValidationError raised while running exits 64 (EX_USAGE).
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as OCIWriterError {
        printError("error: \(e)")
        throw ExitCode(1)
    } catch let e as ValidationError {
        // Raised after parsing (while running): report it like other errors, with the usage exit status.
        printError("error: \(e.message)")
        throw ExitCode(64)
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

/// Parses `KEY=VALUE` (value may be empty, may contain '=').
func parseKeyValue(_ s: String, flag: String) throws -> (String, String) {
    guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
        throw ValidationError("\(flag) expects KEY=VALUE, got '\(s)'")
    }
    return (String(s[..<eq]), String(s[s.index(after: eq)...]))
}

/// `--cmd`/`--entrypoint`: a JSON array of strings (exec form) or a plain string (shell form → /bin/sh -c).
func parseCommand(_ s: String, flag: String) throws -> [String] {
    let trimmed = s.trimmingCharacters(in: .whitespaces)
    if trimmed.hasPrefix("[") {
        guard let data = trimmed.data(using: .utf8),
            let array = try? JSONSerialization.jsonObject(with: data) as? [Any],
            let strings = array as? [String]
        else {
            throw ValidationError("\(flag) looks like a JSON array but is not an array of strings: \(s)")
        }
        return strings
    }
    guard !trimmed.isEmpty else { return [] }
    return ["/bin/sh", "-c", s]
}

/// An `oci-layout:<path>[:tag]` reference (the `oci-layout:` prefix is optional on input).
func parseLayoutReference(_ s: String, flag: String) throws -> LayoutReference {
    var body = s
    if body.hasPrefix("oci-layout:") {
        body.removeFirst("oci-layout:".count)
    } else if body.hasPrefix("oci:") {
        body.removeFirst("oci:".count)
    } else if let colon = body.range(of: "://") ?? body.range(of: ":"),
        body[..<colon.lowerBound].allSatisfy({ $0.isLetter || $0 == "-" }),
        ["docker", "docker-archive", "containers-storage", "dir"].contains(String(body[..<colon.lowerBound]))
    {
        throw ValidationError(
            "\(flag): '\(s)' is not an OCI layout; use oci-layout:<path>[:tag] here (or `ociforge image copy` for other transports)"
        )
    }
    return try LayoutReference(parsing: body)
}
