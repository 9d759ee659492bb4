import Foundation

/// PEM (RFC 7468) blocks: `-----BEGIN <label>-----`, base64 in 64-column lines, `-----END <label>-----`.
public struct PEMBlock: Sendable, Equatable {
    public var label: String
    public var bytes: [UInt8]

    public init(label: String, bytes: [UInt8]) {
        self.label = label
        self.bytes = bytes
    }

    public var encoded: String {
        let b64 = Data(bytes).base64EncodedString()
        var lines: [String] = []
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j]))
            i = j
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }

    /// The first block of `text`; `source` names the file in errors.
    public static func first(in text: String, source: String) throws -> PEMBlock {
        var label: String?
        var body = ""
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if label == nil {
                if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                    label = String(line.dropFirst(11).dropLast(5))
                }
                continue
            }
            if line == "-----END \(label!)-----" {
                guard let data = Data(base64Encoded: body) else {
                    throw SupplyChainError(
                        .invalidKey, "the base64 body of the PEM block '\(label!)' is malformed", location: source)
                }
                return PEMBlock(label: label!, bytes: Array(data))
            }
            if line.contains(":") { continue }  // RFC 1421 headers (Proc-Type, …)
            body += line
        }
        throw SupplyChainError(
            .invalidKey,
            label == nil ? "no PEM block (-----BEGIN …-----) found" : "the PEM block '\(label!)' has no END line",
            location: source)
    }
}
