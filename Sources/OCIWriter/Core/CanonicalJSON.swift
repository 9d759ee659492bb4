import Foundation

/// The one JSON encoder of ociforge: sorted keys, no insignificant whitespace, `/` not escaped.
///
/// Digests cover exact bytes, so a document is encoded once and its bytes kept (see `EncodedDocument`).
public enum CanonicalJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw OCIWriterError(.invalidJSON, "cannot encode \(T.self) as JSON", cause: error)
        }
    }

    /// Decodes `bytes`; a syntax error is reported with line and column (Foundation on Linux gives none).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty {
            throw OCIWriterError(
                .invalidJSON, "malformed JSON\(position(of: bytes)): \(ctx.debugDescription)", path: source)
        } catch let e as DecodingError {
            throw OCIWriterError(.invalidJSON, "invalid \(T.self): \(describe(e))", path: source)
        } catch let e as OCIWriterError {
            var e = e
            if e.path == nil { e.path = source }
            throw e
        } catch {
            throw OCIWriterError(.invalidJSON, "invalid \(T.self)", path: source, cause: error)
        }
    }

    /// Field path and reason of a decoding error, e.g. `layers[2].digest: expected String`.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? "<document>" : s
        }
        switch error {
        case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected \(t)"
        case .valueNotFound(let t, let c): return "\(path(c.codingPath)): missing \(t) value"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])): required field is missing"
        case .dataCorrupted(let c):
            if let under = c.underlyingError as? OCIWriterError { return "\(path(c.codingPath)): \(under.message)" }
            return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// " at line L, column C" for the first syntax error JSONSerialization finds, or "".
    static func position(of bytes: [UInt8]) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            return ""
        } catch {
            let ns = error as NSError
            guard let offset = ns.userInfo["NSJSONSerializationErrorIndex"] as? Int else { return "" }
            var line = 1, col = 1
            for b in bytes.prefix(offset) {
                if b == 0x0A {
                    line += 1
                    col = 1
                } else if b & 0xC0 != 0x80 {
                    col += 1
                }
            }
            return " at line \(line), column \(col)"
        }
    }
}

/// A JSON document together with the exact bytes that were (or will be) hashed and stored.
public struct EncodedDocument<T: Codable & Sendable>: Sendable {
    public let value: T
    public let bytes: [UInt8]
    public let digest: Digest

    /// Encodes `value` canonically, once.
    public init(_ value: T) throws {
        self.value = value
        self.bytes = try CanonicalJSON.encode(value)
        self.digest = Digest.of(bytes)
    }

    /// Keeps `bytes` as they are (documents read from a layout or a registry are never re-encoded).
    public init(bytes: [UInt8], source: String) throws {
        self.value = try CanonicalJSON.decode(T.self, from: bytes, source: source)
        self.bytes = bytes
        self.digest = Digest.of(bytes)
    }

    public var size: Int64 { Int64(bytes.count) }
}
