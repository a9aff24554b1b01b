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
    /// The slice being run: one run at a time may write each slice of an output folder.
    public var shard: Shard?
    /// Asked to stop (by SIGINT / SIGTERM), the run finishes no further image, records what
    /// finished and returns.
    public var stop: StopRequest
    /// No progress on stderr (failures and notes still print).
    public var quiet: Bool

    public init(existing: Existing = .fail, json: Bool = false, maxPixels: Int = 100_000_000, writeReport: Bool = true,
                shard: Shard? = nil, stop: StopRequest = StopRequest(), quiet: Bool = false) {
        self.existing = existing
        self.quiet = quiet
        self.shard = shard
        self.stop = stop
        self.json = json
        self.maxPixels = maxPixels
        self.writeReport = writeReport
    }
}

public struct RunSummary: Sendable, Equatable {
    public var succeeded = 0
    public var failed = 0
    public var skipped = 0
    /// Images not finished because the run was stopped.
    public var left = 0
    /// The signal that stopped the run early.
    public var stoppedBy: Int32?
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
    let lock: ShardLock
    /// The manifest as the run found it, read once its lock was held.
    let recorded: ManifestContents
    /// What every output of this run shares, computed once (models are hashed then).
    let fingerprint: Fingerprint
    /// The XMP packet every output carries, nil when no edit used a trained model.
    let provenance: ProvenancePacket?
    let progress: Progress
    /// This run's start (to the millisecond, so two quick runs differ), recorded in each of its entries.
    let runID: String = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }()

    /// Loads every model the recipe uses before anything is written: one that does not load
    /// is an error of the run (exit 2), not of each image.
    public init(plan: BatchPlan, options: RunOptions) throws(BatchError) {
        let hashes = FileHashCache(url: FileHashCache.location(environment: ProcessInfo.processInfo.environment))
        let models = ModelCache(fileHashes: hashes)
        try models.loadEveryModel(of: plan.recipe)
        self.plan = plan
        self.options = options
        output = try OutputFolder(root: plan.outputRoot, shard: options.shard)
        manifest = Manifest(folder: output)
        try manifest.checkWritable()
        lock = try ShardLock(folder: output.resolvedRoot, shard: options.shard)
        recorded = manifest.read()
        if let shard = options.shard { try recorded.refuseOtherShardCount(than: shard, folder: output.resolvedRoot) }
        fingerprint = Fingerprint(recipe: plan.recipe, hashes: hashes)
        hashes.save()
        provenance = plan.recipe.provenance(version: Self.version)
        progress = Progress(total: plan.jobs.count, mode: Progress.mode(quiet: options.quiet))
        editor = ImageEditor(recipe: plan.recipe, inputRoot: plan.inputRoot, maxPixels: options.maxPixels, models: models,
                             stop: options.stop, display: progress)
    }

    /// Images overlap in three stages: the next job's files are decoded, and the previous
    /// result is encoded, hashed and recorded, while the current one is edited. The edits keep
    /// every thread they ask for; decoding and encoding are single-threaded and would otherwise
    /// leave cores idle (zlib alone was a quarter of a model-free removal batch's time). One job
    /// is read ahead and at most one result waits to be written, so memory grows by one input
    /// and one output at most; results are recorded in job order.
    ///
    /// Asked to stop, the image being edited ends at its next denoising step or tile and is
    /// left for `--resume`; the result already made is written, then the manifest and report.
    /// Asked again, the run removes its temporaries and exits at once (nothing partial stays:
    /// outputs appear only by rename, records only by single appends).
    public func run() -> RunSummary {
        defer { lock.release() }
        // Holding the shard's lock, the temporaries its journal lists are a killed run's.
        output.temporaries.removeAll()
        options.stop.onAbort { [temporaries = output.temporaries] in temporaries.removeAll() }
        let finisher = Finisher(runner: self, progress: progress)
        if let note = Manifest.unparseableNote(recorded.unparseableLines) { finisher.progress.note(note) }
        // A failed attempt never touches an existing output, so the last success vouches for it.
        var previous: [String: ManifestEntry] = [:]
        if options.existing == .resume {
            for entry in recorded.entries where entry.status == .ok { previous[entry.output] = entry }
        }
        let reading = DispatchQueue(label: "overpaint.reading")
        let jobs = plan.jobs
        let readAhead = { (index: Int) in
            jobs.indices.contains(index) ? Eventually(on: reading) { prepare(jobs[index], previous: previous) } : nil
        }
        var ahead = readAhead(0)
        jobs: for (index, job) in jobs.enumerated() {
            guard !options.stop.isRequested, let prepared = ahead?.wait() else { break }
            ahead = readAhead(index + 1)
            let started = Date()
            if let reason = prepared.remaking { finisher.progress.note("remaking \(job.output): \(reason)") }
            switch prepared.outcome {
            case .complete:
                finisher.skip(job)
            case .failed(let error):
                finisher.finish(job, .failure(error), fingerprint: prepared.fingerprint, started: started)
            case .loaded(let input):
                progress.started(index, input: job.input)
                let outcome = Result { try editor.edit(input, job: job) }
                progress.edited(seconds: Date().timeIntervalSince(started))
                // An edit that ends while a stop is asked for was cut short, not failed.
                if options.stop.isRequested, case .failure = outcome { break jobs }
                finisher.finish(job, outcome, fingerprint: prepared.fingerprint, started: started)
            }
        }
        var summary = finisher.drain()
        summary.stoppedBy = options.stop.signal
        summary.left = jobs.count - summary.succeeded - summary.failed - summary.skipped
        if options.writeReport {
            do {
                try Report(output: output, manifest: manifest, latestRun: runID, thisRun: summary).write()
            } catch {
                finisher.progress.note("report.html not written: \(error.localizedDescription)")
            }
        }
        output.temporaries.removeAll()
        return summary
    }

    /// What reading found for one job.
    struct Prepared {
        enum Outcome {
            /// `--resume`, and the manifest vouches for the output.
            case complete
            case failed(Error)
            case loaded(LoadedInput)
        }

        var outcome: Outcome
        var fingerprint: [String: String]
        /// Why `--resume` makes again an output the manifest has a record of.
        var remaking: String?
    }

    private func prepare(_ job: Job, previous: [String: ManifestEntry]) -> Prepared {
        let parts = fingerprint.parts(for: job, recipe: plan.recipe, inputRoot: plan.inputRoot)
        var remaking: String?
        if let record = previous[job.output] {
            remaking = remakeReason(job, record: record, fingerprint: parts)
            if remaking == nil { return Prepared(outcome: .complete, fingerprint: parts) }
        }
        do {
            if let problem = job.problem { throw BatchError.image(problem) }
            try checkExisting(job)
            return Prepared(outcome: .loaded(try editor.load(job)), fingerprint: parts, remaking: remaking)
        } catch {
            return Prepared(outcome: .failed(error), fingerprint: parts, remaking: remaking)
        }
    }

    /// `--resume` keeps an output only when the file still has the hash its record gives and
    /// the record's fingerprint is this run's; otherwise, why it is made again.
    private func remakeReason(_ job: Job, record: ManifestEntry, fingerprint: [String: String]) -> String? {
        guard let actual = try? ContentHash.sha256(ofFileAt: output.url(for: job.output)) else {
            return "the output is missing"
        }
        guard actual == record.sha256 else { return "the output is not the file its record describes" }
        guard let recorded = record.fingerprint else { return "its record has no fingerprint (an older Overpaint made it)" }
        return Fingerprint.differences(from: recorded, to: fingerprint)
    }

    /// Writes a successful result and describes the outcome; a failed write makes the entry a failure.
    func entry(for job: Job, outcome: Result<EditResult, Error>, fingerprint: [String: String],
               started: Date) -> ManifestEntry {
        var entry = ManifestEntry(
            input: job.input, output: job.output, mask: job.mask, status: .failed, error: nil,
            edits: plan.recipe.edits.map(\.name), seed: job.seed, recipe: plan.recipe.sourceName,
            model: plan.recipe.model, seconds: 0, sha256: nil, fingerprint: fingerprint, finished: "",
            version: Self.version, precision: GEMMBackend.productsDescription, run: runID,
            shard: options.shard?.description)
        do {
            let result = try outcome.get()
            let format = plan.recipe.output.format
                ?? OutputFormat(extension: (job.output as NSString).pathExtension) ?? .png
            try output.writeAtomically(job.output) { temporary in
                try ImageFile.write(result.image, to: temporary, format: ImageFormat(format),
                                    quality: plan.recipe.output.quality, text: result.text,
                                    metadata: plan.recipe.output.metadata == .keep ? result.metadata : .none,
                                    provenance: provenance)
                entry.sha256 = try ContentHash.sha256(ofFileAt: temporary)
            }
            if options.writeReport {
                try? Report.writeThumbnails(for: job, result: result, output: output)
            }
            entry.parameters = result.text.first { $0.key == "parameters" }?.value
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
