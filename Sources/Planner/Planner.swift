/// The Planner module: what to build (providers, plan model, config files, merge rules, versions).
public enum PlannerInfo {
    public static let version = "0.1.0"
}
