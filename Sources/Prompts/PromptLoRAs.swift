import Foundation

/// The LoRAs a prompt names with AUTOMATIC1111's extra-network tags, and the prompt without them,
/// as A1111's `extra_networks.parse_prompt` reads them: each `<lora:name>` or `<lora:name:weight>`
/// (`<lyco:...>`, which A1111 reads as the same network) is cut out of the text exactly (the
/// commas and spaces around it stay), its weight 1 when not given.
///
/// Refused (`PromptSyntaxError`), never taken as text: a weight that is not a number, separate
/// text-encoder and UNet weights (`<lora:name:0.8:0.5>`, `te=` / `unet=`), and an empty name.
/// Other extra networks (`<hypernet:...>`) stay in the text, where `WeightedPrompt` refuses them.
public struct PromptLoRAs: Sendable, Equatable {
    /// One `<lora:name:weight>` tag.
    public struct Reference: Sendable, Equatable, Hashable {
        /// The name as written: a file stem looked up in the LoRA folders.
        public let name: String
        public let weight: Double
    }

    /// The tags' network names, compared in lower case.
    static let networkNames: Set<String> = ["lora", "lyco"]

    /// The prompt with the LoRA tags cut out.
    public let text: String
    /// In the order they are written.
    public let loras: [Reference]

    public init(_ prompt: String) throws(PromptSyntaxError) {
        let characters = Array(prompt)
        var text: [Character] = []
        var loras: [Reference] = []
        var position = 0
        while let tag = UnsupportedPromptSyntax.extraNetwork(in: characters, from: position) {
            guard Self.networkNames.contains(tag.name.lowercased()) else {
                text += characters[position..<(tag.start + tag.text.count)]
                position = tag.start + tag.text.count
                continue
            }
            text += characters[position..<tag.start]
            loras.append(try Self.reference(tag.text, name: tag.name, at: tag.start))
            position = tag.start + tag.text.count
        }
        text += characters[position...]
        self.text = String(text)
        self.loras = loras
    }

    /// `<lora:name[:weight]>` as a reference; `tag` is the whole tag, `<` to `>`.
    private static func reference(_ tag: String, name network: String, at offset: Int) throws(PromptSyntaxError) -> Reference {
        let arguments = tag.dropFirst(network.count + 2).dropLast().split(separator: ":", omittingEmptySubsequences: false)
        guard let name = arguments.first, !name.isEmpty else {
            throw PromptSyntaxError(offset: offset, message: "'\(tag)' names no LoRA")
        }
        if arguments.dropFirst().contains(where: { $0.contains("=") }) || arguments.count > 2 {
            throw PromptSyntaxError(offset: offset, message: "'\(tag)': separate text encoder and UNet weights "
                                    + "are not supported; give one weight, <\(network):\(name):0.8>")
        }
        guard arguments.count == 2 else { return Reference(name: String(name), weight: 1) }
        let written = arguments[1].trimmingCharacters(in: .whitespaces)
        guard let weight = Double(written), weight.isFinite else {
            throw PromptSyntaxError(offset: offset, message: "'\(tag)': the weight '\(arguments[1])' is not a number")
        }
        return Reference(name: String(name), weight: weight)
    }
}
