import Foundation
import Testing
@testable import Batch

/// A clock the test moves by hand, and the lines a `Progress` writes with it.
private final class FakeTerminal: @unchecked Sendable {
    var now = 0.0
    var text = ""
    var lines: [String] { text.split(separator: "\n").map(String.init) }

    func progress(total: Int, mode: Batch.Progress.Mode) -> Batch.Progress {
        Batch.Progress(total: total, mode: mode, clock: { self.now }, write: { self.text += $0 })
    }

    /// `count` steps (or tiles: `unit`) of `progress`, each taking `seconds` of the clock.
    func takeSteps(_ count: Int, secondsEach seconds: Double, unit: String = "step", on progress: Batch.Progress) {
        for step in 0..<count {
            now += seconds
            progress.step(step, of: count, unit: unit)
        }
    }
}

/// 40 steps of 1.5 s: the heartbeat prints at 15, 30, 45 and 60 s, and never more often.
@Test func aLongImageInALogPrintsAHeartbeatEvery15Seconds() {
    let log = FakeTerminal()
    let progress = log.progress(total: 2, mode: .log)
    progress.started(0, input: "a.png")
    log.takeSteps(40, secondsEach: 1.5, on: progress)
    #expect(log.lines.count == 4, "\(log.text)")
    #expect(log.lines.first == "[1/2] a.png: step 10/40, 1.50 s/step, image ETA 47s, batch ETA 1m48s")
    #expect(log.lines.last?.hasPrefix("[1/2] a.png: step 40/40, 1.50 s/step, image ETA 2s") == true)
}

@Test func eachFinishedImagePrintsOneLineWithTheBatchETA() {
    let log = FakeTerminal()
    let progress = log.progress(total: 3, mode: .log)
    progress.started(0, input: "a.png")
    log.now = 10
    progress.edited(seconds: 10)
    progress.finished("a.png", outcome: "ok", seconds: 10.2)
    #expect(log.lines == ["[1/3] ok a.png (10.20 s), batch ETA 20s"])
}

/// Three resumed skips then one edited image of 60 s: the last image is expected to take 60 s
/// too, not the 15 s an average over the skips would give.
@Test func resumedSkipsDoNotShortenTheETA() {
    let log = FakeTerminal()
    let progress = log.progress(total: 5, mode: .log)
    for name in ["a", "b", "c"] { progress.finished("\(name).png", outcome: "skipped", seconds: 0) }
    progress.started(3, input: "d.png")
    log.takeSteps(20, secondsEach: 3, on: progress)
    progress.edited(seconds: 60)
    progress.finished("d.png", outcome: "ok", seconds: 60)
    #expect(log.lines.contains("[4/5] d.png: step 20/20, 3.00 s/step, image ETA 3s, batch ETA 1m06s"), "\(log.text)")
    #expect(log.lines.last == "[4/5] ok d.png (60.00 s), batch ETA 1m00s", "\(log.text)")
}

@Test func quietPrintsOnlyNotes() {
    let log = FakeTerminal()
    let progress = log.progress(total: 1, mode: .quiet)
    progress.started(0, input: "a.png")
    log.takeSteps(40, secondsEach: 1.5, on: progress)
    progress.note("FAILED a.png: broken")
    progress.edited(seconds: 60)
    progress.finished("a.png", outcome: "failed", seconds: 60)
    #expect(log.text == "FAILED a.png: broken\n")
}

/// On a terminal every step redraws the bar in place (carriage return, no newline), with the
/// tile count for Real-ESRGAN's tiles.
@Test func aTerminalRedrawsTheBarEachStep() {
    let terminal = FakeTerminal()
    let progress = terminal.progress(total: 2, mode: .terminal)
    progress.started(1, input: "b.png")
    terminal.takeSteps(4, secondsEach: 0.5, unit: "tile", on: progress)
    let draws = terminal.text.split(separator: "\r", omittingEmptySubsequences: true)
    #expect(draws.count == 4 && !terminal.text.contains("\n"))
    #expect(draws.last?.contains("[2/2] b.png: tile 4/4, 0.50 s/tile, image ETA 1s") == true, "\(terminal.text)")
}
