import Foundation
import Testing
@testable import Batch
import OverpaintTestSupport

/// Four photos and an img2img recipe on the tiny pipeline: each image takes a few seconds of
/// denoising steps, so a signal sent once the first is recorded lands mid-batch.
private func slowBatch(in folder: URL) throws -> [String] {
    let model = try tinyPipelineFolder(in: folder)
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    let photo = Fixtures.url("pipelines", "input.png")
    for index in 1...4 {
        try FileManager.default.copyItem(at: photo, to: input.appendingPathComponent("p\(index).png"))
    }
    let recipe = folder.appendingPathComponent("recipe.yaml")
    try """
    seed: 3
    match: {images: ["*.png"]}
    edits:
      - img2img: {prompt: "a painting", strength: 1.0, steps: 12, guidance: 7.5}
    """.write(to: recipe, atomically: true, encoding: .utf8)
    return ["run", recipe.path, "--input", input.path, "--output", folder.appendingPathComponent("out").path,
            "--model", model.path]
}

/// Starts the binary, waits for its first manifest record, sends it `signals` (each after the
/// run has said it took the one before), and waits for it to end.
private func interrupted(_ arguments: [String], output: URL, signals: [Int32]) throws -> CommandResult {
    let capture = try makeScratchFolder("capture")
    defer { try? FileManager.default.removeItem(at: capture) }
    let err = try OutputCapture(at: capture.appendingPathComponent("stderr"))
    defer { err.close() }
    let process = Process()
    process.executableURL = overpaintExecutable()
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = err.handle
    try process.run()
    let manifest = output.appendingPathComponent("manifest.jsonl")
    let deadline = Date().addingTimeInterval(600)
    while Date() < deadline, process.isRunning, ((try? Data(contentsOf: manifest)) ?? Data()).isEmpty {
        usleep(20_000)
    }
    for (index, number) in signals.enumerated() {
        kill(process.processIdentifier, number)
        // Signals of one kind do not queue: the next is sent once this one was taken.
        guard index + 1 < signals.count else { break }
        while process.isRunning, !((try? err.text()) ?? "").contains("stopping") {
            usleep(2_000)
        }
    }
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: "", stderr: try err.text())
}

/// Every record is whole and vouches for its file; no temporary is left.
private func expectNothingPartial(_ output: URL) throws {
    for entry in try manifestLines(output) {
        #expect(entry.status == .ok)
        #expect(try ContentHash.sha256(ofFileAt: output.appendingPathComponent(entry.output)) == entry.sha256)
    }
    #expect(temporaryFiles(under: output).isEmpty)
}

@Test(arguments: [(SIGTERM, Int32(143)), (SIGINT, Int32(130))])
func aSignalStopsAtTheNextStepAndRecordsWhatFinished(_ signal: Int32, _ status: Int32) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let arguments = try slowBatch(in: folder)
    let output = folder.appendingPathComponent("out")

    let stopped = try interrupted(arguments, output: output, signals: [signal])
    #expect(stopped.status == status, "\(stopped.stderr)")
    let done = try manifestLines(output).count
    #expect(done >= 1 && done < 4)
    #expect(stopped.stderr.contains("\(done) done, \(4 - done) left: rerun with --resume"), "\(stopped.stderr)")
    #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("report.html").path))
    try expectNothingPartial(output)

    let resumed = try runOverpaint(arguments + ["--resume"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("\(4 - done) done, 0 failed, \(done) skipped"), "\(resumed.stderr)")
}

/// A second signal does not wait for the step to end: the run exits at once, with the first
/// signal's status, and still leaves nothing partial.
@Test func aSecondSignalAbortsAtOnceLeavingNothingPartial() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let arguments = try slowBatch(in: folder)
    let output = folder.appendingPathComponent("out")

    let aborted = try interrupted(arguments, output: output, signals: [SIGTERM, SIGTERM])
    #expect(aborted.status == 143, "\(aborted.stderr)")
    #expect(!aborted.stderr.contains("left: rerun"), "\(aborted.stderr)")
    try expectNothingPartial(output)
}

/// A signal before the first image (here while the recipe is still being read from a pipe)
/// ends the run at once with the stop's exit code and one line; nothing is written.
@Test func aSignalBeforeTheFirstImageSaysNothingWasWritten() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out")
    let err = try OutputCapture(at: folder.appendingPathComponent("stderr"))
    defer { err.close() }
    let recipe = Pipe()
    let process = Process()
    process.executableURL = overpaintExecutable()
    process.arguments = ["run", "-", "--input", folder.path, "--output", output.path]
    process.standardInput = recipe
    process.standardError = err.handle
    try process.run()
    // long past start-up: the run is waiting for its recipe
    sleep(3)
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    try? recipe.fileHandleForWriting.close()
    #expect(process.terminationReason == .exit && process.terminationStatus == 143)
    let stderr = try err.text()
    #expect(stderr.contains("stopped before the first image: nothing was written"), "\(stderr)")
    #expect(!FileManager.default.fileExists(atPath: output.path))
}
