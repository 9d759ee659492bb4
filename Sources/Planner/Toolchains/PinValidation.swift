extension Planner {
    /// A frozen plan's upstream pins must be complete and consistent with their requirement: the engine then
    /// installs them without reading any index.
    static func validatePins(_ plan: ResolvedPlan, display: String) throws(PlannerError) {
        for (i, t) in plan.toolchains.enumerated() {
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
                try validate(up, tool: t.name, key: "toolchains[\(i)].upstream", display: display)
            }
        }
    }

    /// An upstream requirement's pins: each complete and satisfying the constraint; the other platforms' pins at
    /// the same version, one per platform, none for the main pin's platform.
    static func validate(_ up: UpstreamRequirement, tool: String, key: String, display: String)
        throws(PlannerError)
    {
        guard let pin = up.pin else {
            guard up.platformPins == nil else {
                throw PlannerError(
                    .invalidValue, "platformPins need the main pin", file: display, key: key + ".platformPins")
            }
            return
        }
        guard let constraint = VersionConstraint(up.constraint) else {
            throw PlannerError(
                .invalidValue, "\"\(up.constraint)\" is not a version constraint", file: display,
                key: key + ".constraint")
        }
        if !constraint.isMoving, constraint.alias == nil, !constraint.matches(pin.version) {
            throw PlannerError(
                .invalidValue,
                "pinned \(tool) \(pin.version) does not satisfy \(up.constraint); run `ociforge freeze` again",
                file: display, key: key + ".pin.version")
        }
        try validate(pin, key: key + ".pin", display: display)
        var seen: Set<String> = [pin.platform]
        for (j, other) in (up.platformPins ?? []).enumerated() {
            let otherKey = key + ".platformPins[\(j)]"
            try validate(other.pin, key: otherKey + ".pin", display: display)
            guard other.pin.version == pin.version else {
                throw PlannerError(
                    .invalidValue,
                    "\(tool) is pinned at \(pin.version) for \(pin.platform) but \(other.pin.version) for "
                        + "\(other.platform); every platform builds the same release: run `ociforge freeze` again",
                    file: display, key: otherKey + ".pin.version")
            }
            guard seen.insert(other.platform).inserted else {
                throw PlannerError(
                    .invalidValue, "\(tool) has two pins for \(other.platform)", file: display,
                    key: otherKey + ".pin.platform")
            }
            if let runtime = other.runtimePin { try validate(runtime, key: otherKey + ".runtimePin", display: display) }
        }
    }

    /// One pin's URL, digest and platform.
    static func validate(_ pin: ToolchainPin, key: String, display: String) throws(PlannerError) {
        guard pin.url.hasPrefix("https://") || pin.url.hasPrefix("http://") else {
            throw PlannerError(.invalidValue, "pin url must be an http(s) URL", file: display, key: key + ".url")
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

extension ResolvedPlan {
    /// The plan as built for `platform`: each upstream toolchain's pin for that platform (from `platformPins`)
    /// becomes its main pin, the others stay in `platformPins` in platform order. Toolchains with no pin for
    /// `platform` are left as they are (the engine resolves them again at the pinned version).
    public func selectingPins(for platform: String) -> ResolvedPlan {
        var out = self
        for (i, t) in toolchains.enumerated() {
            guard var up = t.upstream, let pin = up.pin, pin.platform != platform,
                let chosen = up.platformPins?.first(where: { $0.platform == platform })
            else { continue }
            let rest =
                (up.platformPins ?? []).filter { $0.platform != platform }
                + [PlatformPin(pin: pin, runtimePin: up.runtimePin)]
            up.pin = chosen.pin
            up.runtimePin = chosen.runtimePin
            up.platformPins = rest.sorted { $0.platform < $1.platform }
            out.toolchains[i].upstream = up
        }
        return out
    }

    /// The plan with `other`'s pins (the same plan pinned for another platform) kept as `platformPins`, so one
    /// frozen plan carries every platform's archives.
    public func keepingPins(of other: ResolvedPlan) -> ResolvedPlan {
        var out = self
        for (i, t) in toolchains.enumerated() {
            guard var up = t.upstream, let mine = up.pin,
                let theirs = other.toolchains.first(where: { $0.name == t.name })?.upstream,
                let pin = theirs.pin, pin.platform != mine.platform
            else { continue }
            let kept =
                (up.platformPins ?? []).filter { $0.platform != pin.platform }
                + [PlatformPin(pin: pin, runtimePin: theirs.runtimePin)]
            up.platformPins = kept.sorted { $0.platform < $1.platform }
            out.toolchains[i].upstream = up
        }
        return out
    }
}
