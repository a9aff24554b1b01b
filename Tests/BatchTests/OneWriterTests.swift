import Foundation
import Testing
@testable import Batch
import OverpaintTestSupport

private func plan(_ input: URL, _ output: URL, shard: Shard?) throws -> BatchPlan {
    try BatchPlan(recipe: try recipe(fillRecipe, in: input.deletingLastPathComponent()), input: input, output: output,
                  seed: 0, shard: shard)
}

/// While a run of shard 0/2 holds its lock, a second run of that shard exits 2 naming the
/// holder's pid and writes nothing; shard 1/2 runs beside it; once released, 0/2 runs.
@Test func aSecondRunOfTheSameShardExitsTwoNamingTheHolder() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a", "b", "c", "d", "e", "f"], in: folder)
    let output = folder.appendingPathComponent("out")
    let shard = try Shard(index: 0, count: 2)
    do {
        let holder = try BatchRunner(plan: try plan(input, output, shard: shard), options: RunOptions(shard: shard))
        try withExtendedLifetime(holder) {
            let second = try runRecipe(fillRecipe, input, output, ["--shard", "0/2"])
            #expect(second.status == 2, "\(second.stderr)")
            #expect(second.stderr.contains("shard 0/2") && second.stderr.contains("pid \(getpid())"), "\(second.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("manifest.jsonl").path))
            let other = try runRecipe(fillRecipe, input, output, ["--shard", "1/2"])
            #expect(other.status == 0, "\(other.stderr)")
        }
    }
    let after = try runRecipe(fillRecipe, input, output, ["--shard", "0/2"])
    #expect(after.status == 0, "\(after.stderr)")
    #expect(try manifestLines(output).count == 6)
}

/// A run of the whole folder and shard runs would write the same images: while shards run, a
/// whole-folder run exits 2 saying so, and while a whole-folder run holds the folder, a shard does.
@Test func aWholeFolderRunAndShardRunsExcludeEachOther() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a", "b", "c", "d"], in: folder)
    let output = folder.appendingPathComponent("out")
    let shard = try Shard(index: 0, count: 2)
    do {
        let holder = try BatchRunner(plan: try plan(input, output, shard: shard), options: RunOptions(shard: shard))
        try withExtendedLifetime(holder) {
            let whole = try runRecipe(fillRecipe, input, output, [])
            #expect(whole.status == 2, "\(whole.stderr)")
            #expect(whole.stderr.contains("shards of it are being written"), "\(whole.stderr)")
        }
    }
    do {
        let holder = try BatchRunner(plan: try plan(input, output, shard: nil), options: RunOptions())
        try withExtendedLifetime(holder) {
            let sharded = try runRecipe(fillRecipe, input, output, ["--shard", "1/2"])
            #expect(sharded.status == 2, "\(sharded.stderr)")
            #expect(sharded.stderr.contains("cannot start while a run of the whole folder writes it")
                    && sharded.stderr.contains("pid \(getpid())"), "\(sharded.stderr)")
        }
    }
    #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("manifest.jsonl").path))
}

/// The sweeper removes the temporaries its shard's journal lists (a killed run's) and nothing
/// else: not a user's file named like an old temporary, not another shard's.
@Test func theSweeperRemovesOnlyTheTemporariesItRecorded() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out")
    let sub = output.appendingPathComponent("sub")
    try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
    let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "-", with: "_")
    let lookalikes = ["\(OutputFolder.temporaryMarker)\(host).999999-a.png", "\(OutputFolder.temporaryMarker)3", "keep.png"]
    for name in lookalikes { try Data("mine".utf8).write(to: sub.appendingPathComponent(name)) }
    let leftover = output.appendingPathComponent("\(OutputFolder.temporaryMarker)1")
    try Data("half an image".utf8).write(to: leftover)
    try Data("\(leftover.lastPathComponent)\n".utf8)
        .write(to: output.appendingPathComponent(TemporaryFiles.journalName(for: nil)))

    let result = try runRecipe(fillRecipe, input, output)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: leftover.path))
    for name in lookalikes {
        #expect(FileManager.default.fileExists(atPath: sub.appendingPathComponent(name).path), "\(name)")
    }
}

/// An output whose name takes the file system's whole 255 bytes is written, with its
/// thumbnails: the temporary's name does not grow with the output's.
@Test func outputNamesOf255BytesAreWritten() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let stem = String(repeating: "n", count: 251)
    let input = try photosWithMasks([stem], in: folder)
    let output = folder.appendingPathComponent("out")

    let result = try runRecipe(fillRecipe, input, output)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("\(stem).png").path))
    let thumbnails = try FileManager.default.contentsOfDirectory(atPath: output.appendingPathComponent("report").path)
    #expect(thumbnails.count == 3)
    #expect(temporaryFiles(under: output).isEmpty)
}
