import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch
@testable import Recipes

@Test func globsMatchComponentsCaseInsensitivelyAndRecurseWithDoubleStar() {
    #expect(Glob("*.jpg").matches("IMG_0001.JPG"))
    #expect(!Glob("*.jpg").matches("sub/a.jpg"))
    #expect(Glob("**/*.jpg").matches("a.jpg"))
    #expect(Glob("**/*.jpg").matches("x/y/a.jpg"))
    #expect(Glob("shots/**/a?.png").matches("shots/2024/05/a1.png"))
    #expect(!Glob("*.png").matches(".hidden.png"))
    #expect(Glob("[ab]*.tif").matches("b1.tif") && !Glob("[ab]*.tif").matches("c1.tif"))
}

/// bash's braces: `*.{png,jpg}`, nested and beside other wildcards; a brace with no comma is a
/// literal; a pattern whose braces would expand past the limit is a problem, not a hang.
@Test func braceGlobsExpandAsBashDoes() {
    #expect(Glob.expandingBraces("*.{png,jpg}") == ["*.png", "*.jpg"])
    #expect(Glob.expandingBraces("{a,b{1,2}}/*.{x,y}") == ["a/*.x", "a/*.y", "b1/*.x", "b1/*.y", "b2/*.x", "b2/*.y"])
    #expect(Glob.expandingBraces("{only}.png") == ["{only}.png"])
    #expect(Glob.expandingBraces("{a,b") == ["{a,b"])
    #expect(Glob("**/*.{png,JPG}").matches("x/IMG_1.jpg") && Glob("**/*.{png,JPG}").matches("a.png"))
    #expect(!Glob("*.{png,jpg}").matches("a.tif"))
    #expect(Glob.problem("*.{png,jpg}") == nil)
    #expect(Glob.problem("{*.png,../*.jpg}")?.hasPrefix("'../*.jpg': ") == true)
    #expect(Glob.problem(String(repeating: "{a,b}", count: 12) + ".png")?.contains("more than 256") == true)
}

@Test func sha256MatchesKnownVectors() {
    #expect(ContentHash.sha256(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(ContentHash.sha256(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
    #expect(ContentHash.sha256(of: million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
}

@Test func everyImageLandsInExactlyOneShard() throws {
    let paths = (0..<500).map { "folder\($0 % 7)/photo-\($0).jpg" }
    let shards = try (0..<4).map { try Shard(index: $0, count: 4) }
    for path in paths {
        #expect(shards.filter { $0.contains(path) }.count == 1)
    }
    let sizes = shards.map { shard in paths.filter { shard.contains($0) }.count }
    #expect(sizes.allSatisfy { $0 > 80 })
    // FNV-1a's published vector: the assignment is fixed forever, whatever the machine.
    #expect(Shard.stableHash("a") == 0xaf63_dc4c_8601_ec8c)
}

@Test func shardComesFromFlagSlurmOrKubernetes() throws {
    #expect(try Shard.resolve(flag: "2/5", environment: [:]) == Shard(index: 2, count: 5))
    #expect(try Shard.resolve(flag: nil, environment: [:]) == nil)
    let slurm = ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"]
    #expect(try Shard.resolve(flag: nil, environment: slurm) == Shard(index: 2, count: 4))
    #expect(try Shard.resolve(flag: "8", environment: ["JOB_COMPLETION_INDEX": "7"]) == Shard(index: 7, count: 8))
    #expect(throws: BatchError.self) { try Shard.resolve(flag: "4/4", environment: [:]) }
    #expect(throws: BatchError.self) { try Shard.resolve(flag: "8", environment: [:]) }
    #expect(throws: BatchError.self) { try Shard.resolve(flag: "x/y", environment: [:]) }
}

@Test func planMatchesSidecarsAndExcludesThemFromImages() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in")
    for name in ["a.png", "b.png", "sub/c.png", "masks/a.png", "masks/c.png", "notes.txt"] {
        let url = input.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: url)
    }
    let recipe = try recipe(fillRecipe, in: folder)
    let plan = try BatchPlan(recipe: recipe, input: input, output: input.appendingPathComponent("out"), seed: 7, shard: nil)
    #expect(plan.jobs.map(\.input) == ["a.png", "b.png", "sub/c.png"])
    #expect(plan.jobs[0].mask == "masks/a.png" && plan.jobs[0].problem == nil)
    #expect(plan.jobs[1].problem == "b.png: missing mask masks/b.png")
    // Sidecar templates are relative to --input, not to the image's folder.
    #expect(plan.jobs[2].output == "sub/c.png" && plan.jobs[2].mask == "masks/c.png")
    #expect(plan.jobs.allSatisfy { $0.seed == 7 })
}

@Test func outputPathsThatEscapeOrCollideAreRefused() {
    #expect(BatchPlan.unsafeOutputReason("../x.png") != nil)
    #expect(BatchPlan.unsafeOutputReason("a/../../x.png") != nil)
    #expect(BatchPlan.unsafeOutputReason("/etc/x.png") != nil)
    #expect(BatchPlan.unsafeOutputReason("manifest.jsonl") != nil)
    #expect(BatchPlan.unsafeOutputReason("report/x.png") != nil)
    #expect(BatchPlan.unsafeOutputReason("./a/b.png") == nil)
}
