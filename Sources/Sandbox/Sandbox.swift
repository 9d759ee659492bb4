import CSandbox

/// The Sandbox module: runs build phases in namespaces and captures their filesystem diffs.
public enum SandboxInfo {
    public static var launcherVersion: Int { Int(csandbox_version()) }
}
