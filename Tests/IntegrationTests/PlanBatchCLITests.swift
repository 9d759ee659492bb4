import Foundation
import Testing

/// `ociforge plan DIR DIR...`: several apps planned in one process give the same plans as one process each; a
/// directory that cannot be planned is reported and the others are still printed.
@Suite struct PlanBatchCLITests {
    @Test func severalDirectoriesInOneProcessMatchOneProcessEach() throws {
        let dirs = ["planner/go-mod/app", "planner/python-flask/app", "planner/ruby-rails/app"].map(Harness.fixture)
        let batch = try Harness.ok([Harness.ociforge, "plan"] + dirs)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(batch.utf8)) as? [[String: Any]])
        #expect(array.map { $0["directory"] as? String } == dirs)
        for (dir, item) in zip(dirs, array) {
            let single = try Harness.ok([Harness.ociforge, "plan", dir])
            let one = try JSONSerialization.jsonObject(with: Data(single.utf8)) as? NSDictionary
            #expect(one == (item["plan"] as? NSDictionary), "\(dir)")
        }

        let missing = Harness.fixture("planner/no-such-fixture")
        let r = try Harness.run([Harness.ociforge, "plan", dirs[0], missing, dirs[1]])
        #expect(r.status == 2)
        #expect(r.stderr.contains("error: \(missing):"), "\(r.stderr)")
        let partial = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(partial.map { $0["directory"] as? String } == [dirs[0], dirs[1]])

        let table = try Harness.ok([Harness.ociforge, "plan", "-f", "table"] + dirs)
        #expect(dirs.allSatisfy { table.contains("== \($0)\n") })
        let refused = try Harness.run([Harness.ociforge, "plan", "-f", "toml"] + dirs)
        #expect(refused.status != 0 && refused.stderr.contains("json or table"), "\(refused.stderr)")
    }
}
