import ArgumentParser
import Batch
import Foundation
import Recipes
import Schedulers

/// `overpaint run RECIPE --input DIR --output DIR`: exit 0 all done, 1 some images failed,
/// 2 the recipe, the arguments or a model are invalid, no image matched, another run holds
/// the shard, or shards of another count write or wrote the folder (nothing written):
/// validate's checks (`Preflight`) run first; 130 / 143 stopped by
/// SIGINT / SIGTERM (what finished is kept and recorded).
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a recipe over a folder of images.",
        discussion: """
            Examples:
              overpaint run recipes/restyle.yaml --input photos --output out --model models/sd15
              overpaint run recipe.yaml --input photos --output out --resume --shard 0/4
              find photos -name '*.jpg' -newer last-run | overpaint run recipe.yaml --input photos --output out --files-from -
              overpaint run - --input photos --output out < recipe.yaml

            Exit codes: 0 every image done; 1 some images failed (the rest were written); 2 the recipe, \
            the arguments or a model are invalid, or no image matched (nothing written); 130 / 143 \
            stopped by SIGINT / SIGTERM (finished images kept, nothing partial; rerun with --resume).

            Environment: OVERPAINT_MODELS (a folder searched for models named by bare names such as \
            taesd or realesrgan-x4plus), OVERPAINT_THREADS (threads for the kernels), OVERPAINT_GEMM \
            (the matrix-product backend), SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX (the shard index \
            for --shard N), XDG_CACHE_HOME (where model hashes are cached).

            Schedulers a generation edit's `scheduler:` can name (recipe name, then A1111's): \
            \(SchedulerName.allCases.map { "\($0.rawValue) (\($0.displayName))" }.joined(separator: ", ")). \
            Without one, the model's own scheduler config is used.
            """)

    @Argument(help: "The recipe file (YAML), or - to read it from standard input.",
              completion: .file(extensions: ["yaml", "yml"]))
    var recipe: String

    @Option(help: "Folder of input images.", completion: .directory)
    var input: String

    @Option(help: "Folder for outputs, manifest.jsonl and report.html.", completion: .directory)
    var output: String

    @Option(help: "Model folder or single-file checkpoint; overrides the recipe's model.", completion: .file())
    var model: String?

    // unconditional: `--seed -1` is a value, not an option named -1
    @Option(parsing: .unconditional,
            help: "Seed; overrides the recipe's seed. -1: a random seed, printed and recorded (as the recipe's seed: -1).")
    var seed: Int64?

    @Flag(help: "Skip outputs that the manifest records as complete; redo the rest.")
    var resume = false

    @Flag(help: "Replace existing outputs.")
    var overwrite = false

    @Option(help: "Process one slice: I/N (0-based), or N with the index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.")
    var shard: String?

    @Option(help: ArgumentHelp("The images to process instead of match.images: a file (or - for standard input) with one path relative to --input per line.",
                               valueName: "file|-"), completion: .file())
    var filesFrom: String?

    @Flag(help: "Print the plan and write nothing (with --json, as one JSON object).")
    var dryRun = false

    @Flag(help: "Print each finished image's manifest line (JSON) on stdout.")
    var json = false

    @Flag(help: "Print no progress on stderr (failures and the closing summary still print).")
    var quiet = false

    @Option(help: "Refuse images larger than this many megapixels, before decoding them.")
    var maxMegapixels = 100

    @Option(help: Precision.help)
    var precision = Precision.f32

    func validate() throws {
        try precision.validate()
        try refuseTwoReadersOfStandardInput(recipe: recipe, filesFrom: filesFrom)
        if let seed, seed < -1 { throw ValidationError("--seed must be 0 or more, or -1 for a random seed") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if maxMegapixels < 1 { throw ValidationError("--max-megapixels must be at least 1") }
        if maxMegapixels.multipliedReportingOverflow(by: 1_000_000).overflow {
            throw ValidationError("--max-megapixels \(maxMegapixels) is more pixels than can be counted (at most \(Int.max / 1_000_000))")
        }
    }

    func run() throws {
        let stop = StopRequest.onSignals()
        stop.exitsAtOnce(saying: "stopped before the first image: nothing was written")
        try precision.apply()
        let recipe = try loadRecipe(self.recipe, model: model)
        let preflight = Preflight(recipe: recipe)
        try refuse(preflight.problems())
        let plan: BatchPlan
        let shard: Shard?
        do {
            shard = try Shard.resolve(flag: self.shard, environment: ProcessInfo.processInfo.environment)
            plan = try BatchPlan(recipe: recipe, input: URL(fileURLWithPath: input), output: URL(fileURLWithPath: output),
                                 seed: chosenSeed(recipe), shard: shard, list: filesFrom.map(FileList.read))
            // The run loads them itself, before its first image.
            if dryRun { try preflight.loadModels() }
        } catch {
            FileHandle.standardError.write(Data("\(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        if dryRun {
            try json ? printJSONPlan(plan) : printPlan(plan)
            return
        }
        let options = RunOptions(existing: resume ? .resume : overwrite ? .overwrite : .fail,
                                 json: json, maxPixels: maxMegapixels * 1_000_000, shard: shard,
                                 stop: stop, quiet: quiet)
        let summary: RunSummary
        do {
            let runner = try BatchRunner(plan: plan, options: options)
            stop.pollingStarts()
            summary = runner.run()
        } catch {
            FileHandle.standardError.write(Data("\(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        if let signal = summary.stoppedBy {
            let failed = summary.failed > 0 ? "\(summary.failed) failed, " : ""
            let line = "\(summary.succeeded + summary.skipped) done, \(failed)\(summary.left) left: rerun with --resume\n"
            FileHandle.standardError.write(Data(line.utf8))
            throw ExitCode(128 + signal)
        }
        let line = "\(summary.succeeded) done, \(summary.failed) failed, \(summary.skipped) skipped; see \(plan.outputRoot.path)/report.html\n"
        FileHandle.standardError.write(Data(line.utf8))
        if summary.failed > 0 { throw ExitCode(1) }
    }

    /// `--seed`, else the recipe's `seed`, else 0; -1 (either) draws one in A1111's range
    /// (0 ..< 2^32), said on stderr so that it can be given again.
    private func chosenSeed(_ recipe: Recipe) -> UInt64 {
        if let seed, seed >= 0 { return UInt64(seed) }
        guard seed == -1 || seed == nil && recipe.seedIsRandom else { return recipe.seed ?? 0 }
        let drawn = UInt64.random(in: 0 ..< 1 << 32)
        FileHandle.standardError.write(Data("seed -1: this run uses seed \(drawn) (give --seed \(drawn) to redo it)\n".utf8))
        return drawn
    }

    /// The plan as one JSON object: the edits, and each image with its output, sidecars and problem.
    private func printJSONPlan(_ plan: BatchPlan) throws {
        let jobs = plan.jobs.map { job -> [String: Any] in
            var entry: [String: Any] = ["input": job.input, "output": job.output, "seed": job.seed]
            entry["mask"] = job.mask
            entry["control"] = job.control
            entry["problem"] = job.problem
            return entry
        }
        let object: [String: Any] = ["recipe": plan.recipe.sourceName, "images": plan.jobs.count,
                                     "edits": plan.recipe.edits.map(\.name), "jobs": jobs]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    private func printPlan(_ plan: BatchPlan) {
        print("\(plan.jobs.count) images; edits: \(plan.recipe.edits.map(\.name).joined(separator: " -> "))")
        for job in plan.jobs {
            var line = "\(job.input) -> \(job.output)"
            if let mask = job.mask { line += "  mask: \(mask)" }
            if let control = job.control { line += "  control: \(control)" }
            if let problem = job.problem { line += "  PROBLEM: \(problem)" }
            print(line)
        }
    }
}
