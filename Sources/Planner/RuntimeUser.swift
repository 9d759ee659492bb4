import Foundation

/// The unprivileged account the runtime image runs as (non-root by default): created in the runtime stage with a
/// fixed uid/gid so volumes and Kubernetes `runAsUser` policies can rely on it, owning only the paths the app must
/// write (`writable`, relative to the working directory; its home directory too). Everything else in the app
/// directory stays root-owned and therefore read-only to it.
///
/// `start.user = "root"` (or `--user root`) runs as root instead; any other name is created with the same ids.
public struct RuntimeUser: Codable, Equatable, Sendable {
    public static let defaultName = "app"
    public static let defaultID = 10001

    public var name: String
    public var uid: Int
    public var gid: Int
    public var home: String
    /// Relative to the working directory, sorted; created when missing and given to the user (recursively).
    public var writable: [String]

    public init(
        name: String = RuntimeUser.defaultName, uid: Int = RuntimeUser.defaultID, gid: Int = RuntimeUser.defaultID,
        writable: [String] = []
    ) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = "/home/" + name
        self.writable = Array(Set(writable)).sorted()
    }

    /// The account from `start.user` / `--user` (nil: the default). Returns nil for root, which has no account
    /// to create; a numeric `uid[:gid]` is taken as is (the image must provide it).
    static func resolve(requested: String?, writable: [String]) -> RuntimeUser? {
        guard let requested, !requested.isEmpty else { return RuntimeUser(writable: writable) }
        if requested == "root" || requested == "0" || requested == "0:0" { return nil }
        guard isAccountName(requested) else { return nil }
        return RuntimeUser(name: requested, writable: writable)
    }

    static func isAccountName(_ s: String) -> Bool {
        guard let f = s.first, f.isASCII, f.isLetter || f == "_", s.count <= 32 else { return false }
        return s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_.".contains($0) }
    }

    /// Shell command for a Debian runtime stage: the group and user with the fixed ids (idempotent).
    public var accountCommand: String {
        "getent group \(name) >/dev/null || groupadd --gid \(gid) \(name); "
            + "getent passwd \(name) >/dev/null || useradd --uid \(uid) --gid \(gid) --no-log-init --create-home "
            + "--home-dir \(home) --shell /usr/sbin/nologin \(name)"
    }

    /// Shell command run after the app is copied: the writable paths exist and belong to the user. Nil when
    /// nothing under the working directory must be writable.
    public func ownershipCommand(workingDirectory: String) -> String? {
        guard !writable.isEmpty else { return nil }
        let paths = writable.map { shellQuote(workingDirectory + "/" + $0) }.joined(separator: " ")
        return "mkdir -p \(paths) && chown -R \(uid):\(gid) \(paths) && chmod -R u+rwX \(paths)"
    }
}
