import Foundation
import Imaging
import Recipes

public struct RunOptions: Sendable {
    /// What to do when an output already exists.
    public enum Existing: Sendable { case fail, resume, overwrite }

    public var existing: Existing
    /// Print each manifest line on stdout as its image finishes.
    public var json: Bool
    /// Images claiming more pixels are refused before decoding.
    public var maxPixels: Int
    public var writeReport: Bool

    public init(existing: Existing = .fail, json: Bool = false, maxPixels: Int = 100_000_000, writeReport: Bool = true) {
        self.existing = existing
        self.json = json
        self.maxPixels = maxPixels
        self.writeReport = writeReport
    }
}

public struct RunSummary: Sendable, Equatable {
    public var succeeded = 0
    public var failed = 0
    public var skipped = 0
}

/// Carries out a plan image by image. A failing image is recorded and the batch goes on;
/// nothing is written except through `OutputFolder`'s atomic renames.
public struct BatchRunner {
    public static let version = "0.1.0"

    let plan: BatchPlan
    let options: RunOptions
    let output: OutputFolder
    let manifest: Manifest
    let editor: ImageEditor

    public init(plan: BatchPlan, options: RunOptions) throws(BatchError) {
        self.plan = plan
        self.options = options
        output = try OutputFolder(root: plan.outputRoot)
        manifest = Manifest(outputRoot: plan.outputRoot)
        editor = ImageEditor(recipe: plan.recipe, inputRoot: plan.inputRoot, maxPixels: options.maxPixels)
    }

    public func run() -> RunSummary {
        output.removeStaleTemporaries()
        // A failed attempt never touches an existing output, so the last success vouches for it.
        let previous = options.existing == .resume ? manifest.latestEntries { $0.status == .ok } : [:]
        let progress = Progress(total: plan.jobs.count)
        var summary = RunSummary()
        for job in plan.jobs {
            let started = Date()
            if isComplete(job, previous: previous) {
                summary.skipped += 1
                progress.finished(job.input, outcome: "skipped", seconds: 0)
                continue
            }
            let entry = process(job, started: started)
            if entry.status == .ok { summary.succeeded += 1 } else { summary.failed += 1 }
            if let error = entry.error { progress.note("FAILED \(error)") }
            record(entry)
            progress.finished(job.input, outcome: entry.status.rawValue, seconds: entry.seconds)
        }
        if options.writeReport {
            do {
                try Report(output: output, manifest: manifest).write()
            } catch {
                progress.note("report.html not written: \(error.localizedDescription)")
            }
        }
        return summary
    }

    /// `--resume` trusts an output only when the manifest recorded it as finished and the
    /// file still has the recorded hash.
    private func isComplete(_ job: Job, previous: [String: ManifestEntry]) -> Bool {
        guard let expected = previous[job.output]?.sha256 else { return false }
        return (try? SHA256.hex(ofFileAt: output.url(for: job.output))) == expected
    }

    private func process(_ job: Job, started: Date) -> ManifestEntry {
        var entry = ManifestEntry(
            input: job.input, output: job.output, mask: job.mask, status: .failed, error: nil,
            edits: plan.recipe.edits.map(\.name), seed: job.seed, recipe: plan.recipe.source.path,
            model: plan.recipe.model, seconds: 0, sha256: nil, finished: "", version: Self.version)
        do {
            if let problem = job.problem { throw BatchError.image(problem) }
            try checkExisting(job)
            let result = try editor.process(job)
            let format = plan.recipe.output.format
                ?? OutputFormat(extension: (job.output as NSString).pathExtension) ?? .png
            try output.writeAtomically(job.output) { temporary in
                try ImageFile.write(result.image, to: temporary, format: ImageFormat(format),
                                    quality: plan.recipe.output.quality, text: result.text)
                entry.sha256 = try SHA256.hex(ofFileAt: temporary)
            }
            if options.writeReport {
                try? Report.writeThumbnails(for: job, result: result, output: output)
            }
            entry.status = .ok
        } catch {
            entry.error = Self.oneLine(error, naming: job.input)
        }
        entry.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        entry.finished = ISO8601DateFormatter().string(from: Date())
        return entry
    }

    /// Without `--resume` or `--overwrite` an existing output is never replaced. With
    /// `--resume`, one the manifest does not vouch for (killed between rename and manifest
    /// line, or damaged since) is made again.
    private func checkExisting(_ job: Job) throws {
        guard options.existing == .fail,
              FileManager.default.fileExists(atPath: output.url(for: job.output).path) else { return }
        throw BatchError.image("\(job.input): output \(job.output) exists; use --resume to skip finished outputs or --overwrite to replace them")
    }

    private func record(_ entry: ManifestEntry) {
        do {
            try manifest.append(entry)
        } catch {
            FileHandle.standardError.write(Data("manifest: \(error.localizedDescription)\n".utf8))
        }
        if options.json, let line = try? Manifest.encoder.encode(entry) {
            FileHandle.standardOutput.write(line + Data("\n".utf8))
        }
    }

    /// One line naming the file: errors from lower layers already name theirs.
    static func oneLine(_ error: Error, naming input: String) -> String {
        let message = (error as? LocalizedError)?.errorDescription ?? "\(error)"
        let flat = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.contains(input) ? flat : "\(input): \(flat)"
    }
}
