/// Writes a deployment file back with each resource's build block replaced by `image: <reference>`, as a text
/// splice at the block's byte span: every other byte (comments, key order, quoting, blank lines, CRLF line
/// ends, other documents) is kept exactly. Inside a replaced block nothing survives, comments on its lines
/// included; comment lines after its last line stay.
public enum DeploymentRewriter {
    /// `images`: the pinned reference for each resource, by its span. Every resource of the file needs one.
    public static func rewrite(_ file: DeploymentFile, images: [TextSpan: String]) throws(PlannerError) -> [UInt8] {
        var out = file.bytes
        for resource in file.resources.sorted(by: { $0.span.start > $1.span.start }) {
            guard let reference = images[resource.span] else {
                throw PlannerError(
                    .invalidValue, "no image was built for \(resource.label)", file: file.path,
                    line: resource.location.line, column: resource.location.column, key: "build")
            }
            guard isPlainScalar(reference) else {
                throw PlannerError(
                    .invalidValue, "\"\(reference)\" is not an image reference that can be written unquoted",
                    file: file.path, line: resource.location.line, key: "image")
            }
            out.replaceSubrange(resource.span.start..<resource.span.end, with: Array("image: \(reference)".utf8))
        }
        return out
    }

    /// Image references use only characters that need no quoting in a plain YAML scalar.
    static func isPlainScalar(_ s: String) -> Bool {
        !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                    || "._-/:@".unicodeScalars.contains($0)
            }
    }
}
