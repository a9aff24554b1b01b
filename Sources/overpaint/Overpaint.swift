import ArgumentParser
import Batch
import Foundation
import Tensors

@main
struct Overpaint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Batch photo editing with Stable Diffusion models on the CPU, following YAML recipes.",
        version: "0.1.0",
        subcommands: [Run.self, Validate.self, ModelsCommand.self, Bench.self])

    /// As ParsableCommand's, except that invalid arguments (and a bad `OVERPAINT_GEMM`) exit 2
    /// (RECIPES.md), not 64.
    static func main() {
        ProcessMemory.keepFreedBlocksForReuse()
        do {
            try GEMMBackend.validateEnvironment()
        } catch {
            FileHandle.standardError.write(Data("overpaint: \(error.localizedDescription)\n".utf8))
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}
