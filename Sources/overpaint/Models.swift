import ArgumentParser
import Foundation
import Models

/// `overpaint models inspect PATH [--json]`: what a model path holds, from headers only.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Look at model folders and checkpoints.", subcommands: [Inspect.self])

    /// Exit 0 with the report, or one line naming the path and the problem and exit 2.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report a model's family, components, dtypes and parameter counts (reads no tensor data).")

        @Argument(help: "A diffusers pipeline or model folder, or a single-file .safetensors checkpoint.")
        var path: String

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        func run() throws {
            let report: ModelReport
            do {
                report = try ModelInspector.inspect(URL(fileURLWithPath: path))
            } catch {
                let message = (error as? LocalizedError)?.errorDescription ?? "\(path): \(error)"
                FileHandle.standardError.write(Data((message + "\n").utf8))
                throw ExitCode(2)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.summary)
            }
        }
    }
}
