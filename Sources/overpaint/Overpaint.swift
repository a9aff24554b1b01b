import ArgumentParser
import Batch

@main
struct Overpaint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Batch photo editing with Stable Diffusion models on the CPU.")
}
