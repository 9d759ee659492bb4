/// Debian package versions (`[epoch:]upstream[-revision]`) reduced to the upstream release they carry, so they
/// can be matched with `VersionConstraint`: `1:27.3.4.1+dfsg-1+deb13u4` → 27.3.4.1, `18.20.4+dfsg-1~deb12u3` →
/// 18.20.4, `2:1.24~2` → 1.24, `3.1.7+really3.1.2-0+deb12u1` → 3.1.2, `1.18.3.dfsg-1` → 1.18.3,
/// `21.0.13+9-1~deb13u2` → 21.0.13.
public enum DebianVersion {
    public static func upstream(_ debian: String) -> String {
        var s = Substring(debian)
        if let colon = s.firstIndex(of: ":"), s[..<colon].allSatisfy(\.isNumber) { s = s[s.index(after: colon)...] }
        if let dash = s.lastIndex(of: "-") { s = s[..<dash] }
        if let really = s.range(of: "+really") { s = s[really.upperBound...] }
        if let cut = s.firstIndex(where: { $0 == "+" || $0 == "~" }) { s = s[..<cut] }
        for suffix in [".dfsg", ".ds"] { if let r = s.range(of: suffix) { s = s[..<r.lowerBound] } }
        return String(s)
    }

    /// Whether a Debian package version carries an upstream release that satisfies the request.
    public static func satisfies(_ debian: String, _ constraint: VersionConstraint) -> Bool {
        constraint.matches(upstream(debian))
    }
}
