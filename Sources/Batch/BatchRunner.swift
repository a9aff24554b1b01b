import Foundation
import Imaging
import Recipes
import Tensors

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

    /// Images overlap in three stages: the next job's files are decoded, and the previous
    /// result is encoded, hashed and recorded, while the current one is edited. The edits keep
    /// every thread they ask for; decoding and encoding are single-threaded and would otherwise
    /// leave cores idle (zlib alone was a quarter of a model-free removal batch's time). One job
    /// is read ahead and at most one result waits to be written, so memory grows by one input
    /// and one output at most; results are recorded in job order.
    public func run() -> RunSummary {
        output.removeStaleTemporaries()
        // A failed attempt never touches an existing output, so the last success vouches for it.
        let previous = options.existing == .resume ? manifest.latestEntries { $0.status == .ok } : [:]
        let finisher = Finisher(runner: self, progress: Progress(total: plan.jobs.count))
        let reading = DispatchQueue(label: "overpaint.reading")
        let jobs = plan.jobs
        let readAhead = { (index: Int) in
            jobs.indices.contains(index) ? Eventually(on: reading) { prepare(jobs[index], previous: previous) } : nil
        }
        var ahead = readAhead(0)
        for (index, job) in jobs.enumerated() {
            guard let prepared = ahead?.wait() else { break }
            ahead = readAhead(index + 1)
            let started = Date()
            switch prepared {
            case .complete:
                finisher.skip(job)
            case .failed(let error):
                finisher.finish(job, .failure(error), started: started)
            case .loaded(let input):
                finisher.finish(job, Result { try editor.edit(input, job: job) }, started: started)
            }
        }
        let summary = finisher.drain()
        if options.writeReport {
            do {
                try Report(output: output, manifest: manifest).write()
            } catch {
                finisher.progress.note("report.html not written: \(error.localizedDescription)")
            }
        }
        return summary
    }

    /// What reading found for one job.
    enum Prepared {
        /// `--resume`, and the manifest vouches for the output.
        case complete
        case failed(Error)
        case loaded(LoadedInput)
    }

    private func prepare(_ job: Job, previous: [String: ManifestEntry]) -> Prepared {
        if isComplete(job, previous: previous) { return .complete }
        do {
            if let problem = job.problem { throw BatchError.image(problem) }
            try checkExisting(job)
            return .loaded(try editor.load(job))
        } catch {
            return .failed(error)
        }
    }

    /// `--resume` trusts an output only when the manifest recorded it as finished and the
    /// file still has the recorded hash.
    private func isComplete(_ job: Job, previous: [String: ManifestEntry]) -> Bool {
        guard let expected = previous[job.output]?.sha256 else { return false }
        return (try? SHA256.hex(ofFileAt: output.url(for: job.output))) == expected
    }

    /// Writes a successful result and describes the outcome; a failed write makes the entry a failure.
    func entry(for job: Job, outcome: Result<EditResult, Error>, started: Date) -> ManifestEntry {
        var entry = ManifestEntry(
            input: job.input, output: job.output, mask: job.mask, status: .failed, error: nil,
            edits: plan.recipe.edits.map(\.name), seed: job.seed, recipe: plan.recipe.source.path,
            model: plan.recipe.model, seconds: 0, sha256: nil, finished: "", version: Self.version,
            precision: GEMMBackend.productsDescription)
        do {
            let result = try outcome.get()
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

    func record(_ entry: ManifestEntry) {
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
