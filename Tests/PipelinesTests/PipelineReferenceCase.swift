import Foundation
import OverpaintTestSupport
import Schedulers
import Testing
@testable import Pipelines

/// The settings every pipeline reference script (tools/reference/*_fixtures.py) writes into
/// each case it runs, under the scripts' keys: the generator's seed, the step count and the
/// guidance scale always; strength, scheduler, eta and negative prompt where the case sets them.
struct SamplingSettings: Decodable, Sendable {
    let seed: UInt64
    let steps: Int
    let guidance: Float
    let strength: Double?
    let scheduler: SchedulerName?
    let eta: Float?
    let negative: String?

    /// The options the script calls its pipeline with under `prompt`: `negative_prompt=None`
    /// where the case has no negative prompt, and GenerationOptions' own strength where the
    /// case has none (the scripts whose pipeline takes no strength).
    func options(prompt: String) -> GenerationOptions {
        var options = GenerationOptions(prompt: prompt, negativePrompt: negative ?? "", steps: steps,
                                        guidanceScale: guidance, seed: seed, scheduler: scheduler, eta: eta ?? 0,
                                        negativePromptGiven: negative != nil)
        if let strength { options.strength = strength }
        return options
    }
}

/// One case of a pipeline reference script's CASES, as its JSON holds it: the sampling settings
/// every script writes and `Keys`, the keys only this script writes, both read from the case's
/// object; named by its key in the file. Both sets of keys read as the case's own properties.
@dynamicMemberLookup
struct PipelineReferenceCase<Keys: Decodable & Sendable>: NamedReferenceCase, Sendable, CustomTestStringConvertible {
    var name = ""
    let sampling: SamplingSettings
    let keys: Keys

    init(from decoder: any Decoder) throws {
        sampling = try SamplingSettings(from: decoder)
        keys = try Keys(from: decoder)
    }

    var testDescription: String { name }

    subscript<Value>(dynamicMember path: KeyPath<SamplingSettings, Value>) -> Value { sampling[keyPath: path] }
    subscript<Value>(dynamicMember path: KeyPath<Keys, Value>) -> Value { keys[keyPath: path] }

    /// The options the script calls its pipeline with under `prompt` (`SamplingSettings.options`).
    func options(prompt: String) -> GenerationOptions { sampling.options(prompt: prompt) }
}

/// An inversion fixture file (inversion_fixtures.py): the prompt the inversion runs under, and
/// the edits from the inverted latents by name.
struct InversionCaseFile<Case: Decodable & Sendable>: Decodable, Sendable {
    let sourcePrompt: String
    let cases: [String: Case]

    private enum CodingKeys: String, CodingKey {
        case cases
        case sourcePrompt = "source_prompt"
    }
}
