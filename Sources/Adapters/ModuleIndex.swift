import Weights

/// The weight tensors of one model component by the names adapter files give their modules.
///
/// kohya names are the module's path with every dot an underscore (that is how sd-scripts makes
/// them from the diffusers / transformers modules), so matching both layouts against the model's
/// own names, dots made underscores alike, finds exactly the modules their trainers adapted, with
/// no hand-written table to fall behind. sd-scripts trains SDXL on sgm's UNet, so SDXL kohya files
/// name UNet modules as sgm does (`input_blocks_4_1_transformer_blocks_0_attn1_to_q`): each UNet
/// weight is indexed under its sgm (LDM) name too, as `LDMReverseKeyMap` gives it. Text encoder
/// names are compared without transformers' `text_model.` prefix, which checkpoints may or may not
/// carry.
struct ModuleIndex {
    private let weightKeys: [String: String]

    init(keys: [String], component: AdapterComponent) {
        let sgmName: (String) -> String? = component == .unet ? Self.sgmNames(keys) : { _ in nil }
        var weightKeys: [String: String] = [:]
        for key in keys where key.hasSuffix(".weight") {
            weightKeys[Self.canonical(String(key.dropLast(".weight".count)), component: component)] = key
            if let sgm = sgmName(key), sgm.hasSuffix(".weight") {
                weightKeys[Self.canonical(String(sgm.dropLast(".weight".count)), component: component)] = key
            }
        }
        self.weightKeys = weightKeys
    }

    /// The model's weight key for an adapter's module name, if it has that module.
    func weightKey(for module: String, component: AdapterComponent) -> String? {
        weightKeys[Self.canonical(module, component: component)]
    }

    static func canonical(_ name: String, component: AdapterComponent) -> String {
        var name = name.replacingOccurrences(of: ".", with: "_")
        if component != .unet, name.hasPrefix("text_model_") { name.removeFirst("text_model_".count) }
        return name
    }

    /// The sgm name of a diffusers UNet tensor, for the UNet whose tensors are `keys`: its
    /// `layers_per_block` and which up blocks have attention are read from the names.
    static func sgmNames(_ keys: [String]) -> (String) -> String? {
        func index(after prefix: String, in key: String) -> Int? {
            key.hasPrefix(prefix) ? Int(key.dropFirst(prefix.count).prefix { $0.isNumber }) : nil
        }
        let layersPerBlock = Set(keys.compactMap { index(after: "down_blocks.0.resnets.", in: $0) }).count
        let attentionUpBlocks = Set(keys.filter { $0.contains(".attentions.") }.compactMap { index(after: "up_blocks.", in: $0) })
        return { LDMReverseKeyMap.unet($0, layersPerBlock: layersPerBlock, upBlocksWithAttention: attentionUpBlocks) }
    }
}
