extension Planner {
    /// A frozen plan's upstream pins must be complete and consistent with their requirement: the engine then
    /// installs them without reading any index.
    static func validatePins(_ plan: ResolvedPlan, display: String) throws(PlannerError) {
        for (i, t) in plan.toolchains.enumerated() {
            let key = "toolchains[\(i)].upstream.pin"
            switch t.source {
            case .debian:
                guard t.debian != nil else {
                    throw PlannerError(
                        .invalidValue, "a debian toolchain needs its `debian` record (suite, runtimePackages, paths)",
                        file: display, key: "toolchains[\(i)].debian")
                }
            case .upstream:
                guard let up = t.upstream else {
                    throw PlannerError(
                        .invalidValue, "an upstream toolchain needs its `upstream` requirement", file: display,
                        key: "toolchains[\(i)].upstream")
                }
                guard let pin = up.pin else { continue }
                guard let constraint = VersionConstraint(up.constraint) else {
                    throw PlannerError(
                        .invalidValue, "\"\(up.constraint)\" is not a version constraint", file: display,
                        key: "toolchains[\(i)].upstream.constraint")
                }
                if !constraint.isMoving, constraint.alias == nil, !constraint.matches(pin.version) {
                    throw PlannerError(
                        .invalidValue,
                        "pinned \(t.name) \(pin.version) does not satisfy \(up.constraint); run `ociforge freeze` again",
                        file: display, key: key + ".version")
                }
                guard pin.url.hasPrefix("https://") || pin.url.hasPrefix("http://") else {
                    throw PlannerError(
                        .invalidValue, "pin url must be an http(s) URL", file: display, key: key + ".url")
                }
                guard Self.isDigest(pin.digest) else {
                    throw PlannerError(
                        .invalidValue, "pin digest must be sha256:<64 hex> or sha512:<128 hex>", file: display,
                        key: key + ".digest")
                }
                guard pin.platform.hasPrefix("linux/") else {
                    throw PlannerError(
                        .invalidValue, "pin platform must be linux/<arch>", file: display, key: key + ".platform")
                }
            }
        }
    }

    static func isDigest(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let length = ["sha256": 64, "sha512": 128][String(parts[0])] else { return false }
        return parts[1].count == length && parts[1].allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

extension ResolvedPlan {
    /// Upstream toolchains the engine still has to resolve against their channel's index.
    public var unpinnedToolchains: [Toolchain] {
        toolchains.filter { $0.source == .upstream && $0.upstream?.pin == nil }
    }

    /// The plan with the engine's pins set by tool name (`version` follows the pin), checked like a frozen plan.
    public func pinning(_ pins: [String: ToolchainPin]) throws(PlannerError) -> ResolvedPlan {
        var out = self
        for (i, t) in toolchains.enumerated() {
            guard let pin = pins[t.name] else { continue }
            guard t.source == .upstream else {
                throw PlannerError(
                    .invalidValue, "\(t.name) comes from Debian; it takes no upstream pin",
                    key: "toolchains[\(i)].upstream.pin")
            }
            out.toolchains[i].upstream?.pin = pin
            out.toolchains[i].version = pin.version
        }
        try Planner.validatePins(out, display: "pins")
        return out
    }
}
