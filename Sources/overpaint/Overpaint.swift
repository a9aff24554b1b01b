import ArgumentParser

@main
struct Overpaint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Batch photo editing with Stable Diffusion models on the CPU, following YAML recipes.",
        version: "0.1.0",
        subcommands: [Run.self, Validate.self])
}
