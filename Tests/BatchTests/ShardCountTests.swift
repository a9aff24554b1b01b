import Foundation
import Testing
@testable import Batch
import OverpaintTestSupport

/// Eight photos, so that every shard of 2, 3 and 4 has some.
private let photoNames = ["a", "b", "c", "d", "e", "f", "g", "h"]

private func plan(_ input: URL, _ output: URL, shard: Shard) throws -> BatchPlan {
    try BatchPlan(recipe: try recipe(fillRecipe, in: input.deletingLastPathComponent()), input: input, output: output,
                  seed: 0, shard: shard)
}

/// Shards of two counts would write the same images: while shards of 4 run, a shard of 2 exits
/// 2 naming the folder and the count in use and writes nothing; another shard of 4 runs beside them.
@Test func aShardOfAnotherCountCannotStartWhileShardsRun() throws {
    let run = try RecipeRun.maskedPhotos(photoNames)
    defer { run.remove() }
    let (input, output) = (run.input, run.output)
    let shard = try Shard(index: 0, count: 4)
    let holder = try BatchRunner(plan: try plan(input, output, shard: shard), options: RunOptions(shard: shard))
    try withExtendedLifetime(holder) {
        let other = try runRecipe(fillRecipe, input, output, ["--shard", "0/2"])
        #expect(other.status == 2, "\(other.stderr)")
        #expect(other.stderr.contains("\(output.path): shard 0/2 cannot start while shards of 4 write it")
                && other.stderr.contains("use --shard I/4 as they do, or wait for them to finish"), "\(other.stderr)")
        #expect(other.stderr.split(separator: "\n").count == 1, "\(other.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("manifest.jsonl").path))
        let sameCount = try runRecipe(fillRecipe, input, output, ["--shard", "1/4"])
        #expect(sameCount.status == 0, "\(sameCount.stderr)")
    }
}

/// Started at the same moment, a shard of 2 and a shard of 3 never both write: whichever comes
/// second is refused, by the lock while the first runs or by the manifest once it has finished.
@Test func shardsOfTwoCountsStartedTogetherNeverBothWrite() throws {
    let run = try RecipeRun.maskedPhotos(photoNames)
    defer { run.remove() }
    let (input, output) = (run.input, run.output)
    let recipeFile = try run.recipe(fillRecipe)
    let shards = ["0/2", "0/3"]
    let resultsLock = NSLock()
    nonisolated(unsafe) var results: [CommandResult] = []
    DispatchQueue.concurrentPerform(iterations: shards.count) { index in
        let result = try? runOverpaint(["run", recipeFile.path, "--input", input.path, "--output", output.path,
                                        "--shard", shards[index]])
        resultsLock.withLock { results += result.map { [$0] } ?? [] }
    }
    #expect(results.map(\.status).sorted() == [0, 2], "\(results.map(\.stderr))")
    let refused: String = results.first(where: { $0.status == 2 }).map(\.stderr) ?? ""
    #expect(refused.contains("cannot start") && (refused.contains("shards of 2") || refused.contains("shards of 3")), "\(refused)")
    let counts = Set(try manifestLines(output).map(\.shardCount))
    #expect(counts.count == 1, "\(counts)")
}

/// Finished shards fix the folder's count: a shard of another count exits 2 saying the manifest
/// records shards of 2 and how to go on; the same count and a whole-folder run go on with
/// `--resume`, keeping every finished output.
@Test func finishedShardsFixTheFolderShardCount() throws {
    let run = try RecipeRun.maskedPhotos(photoNames)
    defer { run.remove() }
    let (input, output) = (run.input, run.output)
    for shard in ["0/2", "1/2"] {
        let result = try runRecipe(fillRecipe, input, output, ["--shard", shard])
        #expect(result.status == 0, "\(result.stderr)")
    }
    let written = try manifestLines(output)
    #expect(written.count == photoNames.count)
    #expect(Set(written.map(\.shard)) == ["0/2", "1/2"])

    let other = try runRecipe(fillRecipe, input, output, ["--shard", "0/3", "--resume"])
    #expect(other.status == 2, "\(other.stderr)")
    #expect(other.stderr.contains("\(output.path): shard 0/3 cannot start: manifest.jsonl records outputs made by shards of 2 (--shard I/2); go on with --shard I/2, or without --shard for the whole folder (--resume keeps finished outputs), or use another --output"),
            "\(other.stderr)")
    #expect(try manifestLines(output).count == photoNames.count)

    let sameCount = try runRecipe(fillRecipe, input, output, ["--shard", "1/2", "--resume"])
    #expect(sameCount.status == 0, "\(sameCount.stderr)")
    let whole = try runRecipe(fillRecipe, input, output, ["--resume"])
    #expect(whole.status == 0, "\(whole.stderr)")
    #expect(whole.stderr.contains("0 done, 0 failed, \(photoNames.count) skipped"), "\(whole.stderr)")
}

/// A whole-folder run's outputs belong to no shard: after one, shards of any count go on with
/// `--resume`; and once a whole-folder run has made every output again, so do shards of a new count.
@Test func afterAWholeFolderRunShardsOfAnyCountGoOn() throws {
    let run = try RecipeRun.maskedPhotos(photoNames)
    defer { run.remove() }
    let (input, output) = (run.input, run.output)
    let whole = try runRecipe(fillRecipe, input, output)
    #expect(whole.status == 0, "\(whole.stderr)")
    #expect(try manifestLines(output).allSatisfy { $0.shard == nil })
    for shard in ["0/3", "2/3", "1/2"] {
        let result = try runRecipe(fillRecipe, input, output, ["--shard", shard, "--resume"])
        #expect(result.status == 0, "\(shard): \(result.stderr)")
        #expect(result.stderr.contains("0 done, 0 failed"), "\(shard): \(result.stderr)")
    }

    let shardedOutput = run.folder.appendingPathComponent("sharded")
    for shard in ["0/2", "1/2"] {
        #expect(try runRecipe(fillRecipe, input, shardedOutput, ["--shard", shard]).status == 0)
    }
    let remade = try runRecipe(fillRecipe, input, shardedOutput, ["--overwrite"])
    #expect(remade.status == 0, "\(remade.stderr)")
    let newCount = try runRecipe(fillRecipe, input, shardedOutput, ["--shard", "0/3", "--resume"])
    #expect(newCount.status == 0, "\(newCount.stderr)")
}
