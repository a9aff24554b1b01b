import ArgumentParser
import Batch
import Foundation
import Recipes
import Schedulers

/// `overpaint run RECIPE --input DIR --output DIR`: exit 0 all done, 1 some images failed,
/// 2 the recipe, the arguments or a model are invalid, no image matched, or another run holds
/// the shard (nothing written): validate's checks (`Preflight`) run first; 130 / 143 stopped by
/// SIGINT / SIGTERM (what finished is kept and recorded).
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a recipe over a folder of images.",
        discussion: "Schedulers a generation edit's `scheduler:` can name (recipe name, then A1111's): "
            + SchedulerName.allCases.map { "\($0.rawValue) (\($0.displayName))" }.joined(separator: ", ")
            + ". Without one, the model's own scheduler config is used.")

    @Argument(help: "The recipe file (YAML), or - to read it from standard input.")
    var recipe: String

    @Option(help: "Folder of input images.")
    var input: String

    @Option(help: "Folder for outputs, manifest.jsonl and report.html.")
    var output: String

    @Option(help: "Model folder or single-file checkpoint; overrides the recipe's model.")
    var model: String?

    @Option(help: "Seed; overrides the recipe's seed.")
    var seed: UInt64?

    @Flag(help: "Skip outputs that the manifest records as complete; redo the rest.")
    var resume = false

    @Flag(help: "Replace existing outputs.")
    var overwrite = false

    @Option(help: "Process one slice: I/N (0-based), or N with the index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.")
    var shard: String?

    @Option(help: ArgumentHelp("The images to process instead of match.images: a file (or - for standard input) with one path relative to --input per line.",
                               valueName: "file|-"))
    var filesFrom: String?

    @Flag(help: "Print the plan and write nothing.")
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
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if maxMegapixels < 1 { throw ValidationError("--max-megapixels must be at least 1") }
        if maxMegapixels.multipliedReportingOverflow(by: 1_000_000).overflow {
            throw ValidationError("--max-megapixels \(maxMegapixels) is more pixels than can be counted (at most \(Int.max / 1_000_000))")
        }
    }

    func run() throws {
        try precision.apply()
        let recipe = try loadRecipe(self.recipe, model: model)
        let preflight = Preflight(recipe: recipe)
        try refuse(preflight.problems())
        let plan: BatchPlan
        let shard: Shard?
        do {
            shard = try Shard.resolve(flag: self.shard, environment: ProcessInfo.processInfo.environment)
            plan = try BatchPlan(recipe: recipe, input: URL(fileURLWithPath: input), output: URL(fileURLWithPath: output),
                                 seed: seed ?? recipe.seed ?? 0, shard: shard, list: filesFrom.map(FileList.read))
            // The run loads them itself, before its first image.
            if dryRun { try preflight.loadModels() }
        } catch {
            FileHandle.standardError.write(Data("\(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        if dryRun {
            printPlan(plan)
            return
        }
        let options = RunOptions(existing: resume ? .resume : overwrite ? .overwrite : .fail,
                                 json: json, maxPixels: maxMegapixels * 1_000_000, shard: shard,
                                 stop: StopRequest.onSignals(), quiet: quiet)
        let summary: RunSummary
        do {
            summary = try BatchRunner(plan: plan, options: options).run()
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
