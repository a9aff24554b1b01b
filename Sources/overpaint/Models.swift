import Adapters
import ArgumentParser
import Batch
import Foundation
import Models

/// `overpaint models inspect PATH [--json]`: what a model path holds, from headers only.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Look at model folders and checkpoints.",
        subcommands: [Inspect.self, List.self, Random.self])

    /// `overpaint models list [--recipe R]`: each folder bare model names are looked up in, and
    /// what each entry is, from headers only.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the folders searched for bare model names (vae: taesd, upscale: realesrgan-x4plus) hold.")

        @Option(help: "A recipe, whose folder's models/ (and its parent's) is searched too.", completion: .file(extensions: ["yaml", "yml"]))
        var recipe: String?

        func run() {
            let recipe = URL(fileURLWithPath: self.recipe ?? FileManager.default.currentDirectoryPath + "/recipe.yaml")
            for folder in ModelSearchPath.folders(recipe: recipe) {
                let entries = ModelSearchPath.entries(of: folder)
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
                    print("\(folder.path): absent")
                    continue
                }
                print("\(folder.path):" + (entries.isEmpty ? " empty" : ""))
                let width = entries.map(\.count).max() ?? 0
                for entry in entries {
                    print("  " + entry.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                          + Self.describe(folder.appendingPathComponent(entry)))
                }
            }
        }

        /// One line on what `url` is, as `models inspect` would find it.
        static func describe(_ url: URL) -> String {
            if url.pathExtension == "param" { return "Real-ESRGAN (ncnn), upscale: {model: \(url.deletingPathExtension().lastPathComponent)}" }
            if (try? AdapterFile(url: url)) != nil { return "LoRA / LyCORIS (<lora:\(url.deletingPathExtension().lastPathComponent):1>)" }
            guard let report = try? ModelInspector.inspect(url) else { return "not a model Overpaint reads" }
            let kind = report.family == .unknown ? report.className ?? "unknown" : report.family.rawValue
            let note = RandomModel.note(at: url).map { "; \($0)" } ?? ""
            return "\(kind), \(report.layout.rawValue)\(note)"
        }
    }

    /// Exit 0 with the report, or one line naming the path and the problem and exit 2.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report a model's family, components, dtypes and parameter counts (reads no tensor data).")

        @Argument(help: "A diffusers pipeline or model folder, a single-file .safetensors checkpoint, or a LoRA / LyCORIS file.")
        var path: String

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        func run() throws {
            if let adapter = try? AdapterFile(url: URL(fileURLWithPath: path)) {
                try inspect(adapter)
                return
            }
            let report: ModelReport
            do {
                report = try ModelInspector.inspect(URL(fileURLWithPath: path))
            } catch {
                let message = (error as? LocalizedError)?.errorDescription ?? "\(path): \(error)"
                FileHandle.standardError.write(Data((message + "\n").utf8))
                throw ExitCode(2)
            }
            let randomNote = RandomModel.note(at: URL(fileURLWithPath: path))
            try print(report, summary: report.summary + (randomNote.map { "\nnote:       \($0)" } ?? ""))
        }

        /// A LoRA / LyCORIS file: its format, ranks, targets and base family.
        private func inspect(_ adapter: AdapterFile) throws {
            let report: AdapterReport
            do {
                report = try AdapterReport(adapter)
            } catch {
                FileHandle.standardError.write(Data((error.localizedDescription + "\n").utf8))
                throw ExitCode(2)
            }
            try print(report, summary: report.summary)
        }

        /// The report as one JSON object with `--json`, else its summary.
        private func print(_ report: some Encodable, summary: String) throws {
            guard json else { return Swift.print(summary) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Swift.print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// `overpaint models random --like NAME --out PATH`: a known architecture with seeded
    /// random weights (not a real model), so full-size runs need no download.
    struct Random: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a known architecture with random weights (for timing and memory checks; its images are noise).")

        @Option(help: "The architecture: \(KnownArchitecture.allCases.map(\.rawValue).joined(separator: ", ")).")
        var like: String

        @Option(help: "Where to write: a folder (diffusers) or a .safetensors file (single-file).")
        var out: String

        @Option(help: "Seed of the weights.")
        var seed: UInt64 = 0

        @Option(help: "Stored element type: f16 or f32.")
        var dtype: String = "f16"

        @Option(help: "diffusers (a folder with configs) or single-file (one LDM-layout .safetensors; not for controlnet-sdxl, taesd, taesdxl); default: single-file when --out ends in .safetensors.")
        var format: String?

        private var chosenFormat: RandomModel.Format? {
            guard let format else { return out.hasSuffix(".safetensors") ? .singleFile : .diffusers }
            return RandomModel.Format(rawValue: format)
        }

        func validate() throws {
            guard KnownArchitecture(rawValue: like) != nil else {
                throw ValidationError("unknown --like '\(like)'; one of \(KnownArchitecture.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard ["f16", "f32"].contains(dtype) else { throw ValidationError("--dtype must be f16 or f32") }
            guard chosenFormat != nil else {
                throw ValidationError("--format must be diffusers or single-file")
            }
        }

        func run() throws {
            guard let known = KnownArchitecture(rawValue: like), let format = chosenFormat else {
                throw ExitCode(2)
            }
            let architecture: RandomModel.Architecture
            if let pipeline = known.pipeline {
                architecture = .stableDiffusion(pipeline)
            } else if let refiner = known.refiner {
                architecture = .sdxlRefiner(refiner)
            } else if let controlNet = known.controlNet {
                architecture = .controlNet(controlNet)
            } else if let network = known.rrdbNet {
                architecture = .rrdbNet(network)
            } else if let autoencoder = known.autoencoderTiny {
                architecture = .autoencoderTiny(autoencoder)
            } else {
                throw ExitCode(2)
            }
            do {
                try RandomModel.write(architecture, name: like, to: URL(fileURLWithPath: out), format: format, seed: seed,
                                      dtype: dtype == "f32" ? .f32 : .f16)
            } catch {
                let message = (error as? LocalizedError)?.errorDescription ?? "\(out): \(error)"
                FileHandle.standardError.write(Data((message + "\n").utf8))
                throw ExitCode(1)
            }
            print("wrote \(out): \(like) with random weights (seed \(seed), \(dtype), \(format.rawValue)); not a real model")
        }
    }
}
