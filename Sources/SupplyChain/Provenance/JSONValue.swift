import Foundation

/// A JSON value for free-form provenance parameters (encoded canonically by `CanonicalJSON`).
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String)
    case number(Int64)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let n): try c.encode(n)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Int64.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// The value with every object key in `secretKeys` removed and every occurrence of a secret value inside
    /// strings replaced by `[REDACTED]` (secrets never reach an attestation).
    public func redacting(keys secretKeys: Set<String>, values secretValues: [String]) -> JSONValue {
        switch self {
        case .string(var s):
            for v in secretValues where !v.isEmpty { s = s.replacingOccurrences(of: v, with: "[REDACTED]") }
            return .string(s)
        case .array(let a): return .array(a.map { $0.redacting(keys: secretKeys, values: secretValues) })
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, v) in o where !secretKeys.contains(k) {
                out[k] = v.redacting(keys: secretKeys, values: secretValues)
            }
            return .object(out)
        default: return self
        }
    }
}
