/// diffusers names back to original LDM single-file names: the inverse of `LDMKeyMap`, as
/// diffusers' `scripts/convert_diffusers_to_original_stable_diffusion.py` does it.
///
/// Used to write single-file checkpoints (random-weight models); `LDMKeyMap` maps every name this
/// returns back to the name it came from. Names come without the component prefix
/// (`model.diffusion_model.` ...), which the caller adds.
public enum LDMReverseKeyMap {
    /// How a diffusers tensor sits in the LDM file.
    public struct Target: Sendable, Equatable {
        public let name: String
        /// The LDM shape, when it differs (VAE attention projections are 1x1 convolutions there).
        public let shape: [Int]?
        /// For OpenCLIP's fused `in_proj`: this tensor is rows `part` (0 q, 1 k, 2 v) of three.
        public let fusedPart: Int?
        /// Stored transposed (OpenCLIP's `text_projection`, applied as `x @ P`).
        public let transposed: Bool

        init(_ name: String, shape: [Int]? = nil, fusedPart: Int? = nil, transposed: Bool = false) {
            self.name = name
            self.shape = shape
            self.fusedPart = fusedPart
            self.transposed = transposed
        }
    }

    /// A UNet or ControlNet tensor. `upBlocksWithAttention` are the up blocks that have
    /// transformers (their upsampler is the third child of the last output block, not the second).
    public static func unet(_ name: String, layersPerBlock: Int, upBlocksWithAttention: Set<Int>) -> String? {
        if let renamed = unetTopLevel.toLDM(name) { return renamed }
        let parts = name.split(separator: ".").map(String.init)
        if parts.first == "mid_block" { return midBlock(parts) }
        let slot = layersPerBlock + 1
        guard parts.count >= 4, let block = Int(parts[1]) else { return nil }
        let tail = parts[4...].joined(separator: ".")
        switch (parts[0], parts[2]) {
        case (_, "resnets"):
            guard let layer = Int(parts[3]), let entry = layerEntry(parts[0], block: block, layer: layer, slot: slot),
                  let resnet = LDMRenames.unetResnet.toLDM(tail) else { return nil }
            return "\(entry).0.\(resnet)"
        case (_, "attentions"):
            guard let layer = Int(parts[3]), let entry = layerEntry(parts[0], block: block, layer: layer, slot: slot) else {
                return nil
            }
            return "\(entry).1.\(tail)"
        case ("down_blocks", "downsamplers"):
            guard parts.count >= 5, parts[4] == "conv" else { return nil }
            return "input_blocks.\((block + 1) * slot).0.op.\(parts[5...].joined(separator: "."))"
        case ("up_blocks", "upsamplers"):
            guard parts.count >= 5, parts[4] == "conv" else { return nil }
            let child = upBlocksWithAttention.contains(block) ? 2 : 1
            return "output_blocks.\(block * slot + layersPerBlock).\(child).conv.\(parts[5...].joined(separator: "."))"
        default:
            return nil
        }
    }

    /// A ControlNet tensor (LDM names after `control_model.`).
    public static func controlNet(_ name: String, layersPerBlock: Int) -> String? {
        if let renamed = controlNetTopLevel.toLDM(name) { return renamed }
        let parts = name.split(separator: ".").map(String.init)
        if parts.count == 3, parts[0] == "controlnet_down_blocks", let index = Int(parts[1]) {
            return "zero_convs.\(index).0.\(parts[2])"
        }
        if parts.count == 4, parts[0] == "controlnet_cond_embedding", parts[1] == "blocks", let index = Int(parts[2]) {
            return "input_hint_block.\(2 * index + 2).\(parts[3])"
        }
        return unet(name, layersPerBlock: layersPerBlock, upBlocksWithAttention: [])
    }

    /// A VAE tensor; `upBlockCount` is the number of decoder up blocks.
    public static func vae(_ name: String, shape: [Int], upBlockCount: Int) -> Target? {
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 3, parts[0] == "encoder" || parts[0] == "decoder" else {
            return name.hasPrefix("quant_conv.") || name.hasPrefix("post_quant_conv.") ? Target(name) : nil
        }
        let side = parts[0]
        let leaf = parts[parts.count - 1]
        switch parts[1] {
        case "conv_in", "conv_out":
            return Target(name)
        case "conv_norm_out":
            return Target("\(side).norm_out.\(leaf)")
        case "mid_block" where parts[2] == "resnets" && parts.count >= 5:
            guard let index = Int(parts[3]) else { return nil }
            return Target("\(side).mid.block_\(index + 1).\(vaeResnet(parts[4...]))")
        case "mid_block" where parts[2] == "attentions" && parts.count >= 6:
            let module = parts[4] == "to_out" ? "to_out.0" : parts[4]
            guard let renamed = LDMRenames.vaeAttention.ldm(module) else { return nil }
            let isProjection = renamed != "norm" && leaf == "weight"
            return Target("\(side).mid.attn_1.\(renamed).\(leaf)", shape: isProjection ? shape + [1, 1] : nil)
        case "down_blocks", "up_blocks":
            return vaeSampling(parts, upBlockCount: upBlockCount)
        default:
            return nil
        }
    }

    /// An SD 1.x CLIP tensor (LDM names after `cond_stage_model.transformer.`).
    public static func clip(_ name: String) -> String { "text_model." + name }

    /// An OpenCLIP tensor (LDM names after SD 2.x's `cond_stage_model.model.` or SDXL's
    /// `conditioner.embedders.1.model.`); SDXL's `text_projection.weight` (`[projection, width]`)
    /// is stored transposed.
    public static func openCLIP(_ name: String, shape: [Int] = []) -> Target? {
        if let renamed = LDMRenames.openCLIPTopLevel.ldm(name) { return Target(renamed) }
        if name == "text_projection.weight" {
            return Target("text_projection", shape: shape.count == 2 ? [shape[1], shape[0]] : nil, transposed: true)
        }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 5, parts[0] == "encoder", parts[1] == "layers", let layer = Int(parts[2]) else { return nil }
        let base = "transformer.resblocks.\(layer)."
        let rest = parts[3...].joined(separator: ".")
        if parts[3] == "self_attn", let part = ["q_proj", "k_proj", "v_proj"].firstIndex(of: parts[4]), parts.count == 6 {
            return Target("\(base)attn.in_proj_\(parts[5])", fusedPart: part)
        }
        return LDMRenames.openCLIPBlock.toLDM(rest).map { Target(base + $0) }
    }

    // MARK: - Pieces

    /// The LDM entry (`input_blocks.N` / `output_blocks.N`) of layer `layer` of a diffusers
    /// down or up block: LDM numbers the layers of all blocks in one list, `slot` to a block
    /// (a down block's downsampler, an up block's upsampler taking the last).
    private static func layerEntry(_ blocks: String, block: Int, layer: Int, slot: Int) -> String? {
        switch blocks {
        case "down_blocks": return "input_blocks.\(1 + block * slot + layer)"
        case "up_blocks": return "output_blocks.\(block * slot + layer)"
        default: return nil
        }
    }

    private static func midBlock(_ parts: [String]) -> String? {
        guard parts.count >= 4, parts[0] == "mid_block", let index = Int(parts[2]) else { return nil }
        let tail = parts[3...].joined(separator: ".")
        switch parts[1] {
        case "resnets": return LDMRenames.unetResnet.toLDM(tail).map { "middle_block.\(2 * index).\($0)" }
        case "attentions": return "middle_block.1.\(tail)"
        default: return nil
        }
    }

    private static func vaeSampling(_ parts: [String], upBlockCount: Int) -> Target? {
        guard parts.count >= 5, let block = Int(parts[2]) else { return nil }
        let isDown = parts[1] == "down_blocks"
        let level = isDown ? "down.\(block)" : "up.\(upBlockCount - 1 - block)"
        switch parts[3] {
        case "resnets":
            guard parts.count >= 6 else { return nil }
            return Target("\(parts[0]).\(level).block.\(parts[4]).\(vaeResnet(parts[5...]))")
        case "downsamplers", "upsamplers":
            guard parts.count >= 7, parts[5] == "conv" else { return nil }
            return Target("\(parts[0]).\(level).\(isDown ? "downsample" : "upsample").conv.\(parts[6])")
        default:
            return nil
        }
    }

    private static func vaeResnet(_ tail: ArraySlice<String>) -> String {
        let joined = tail.joined(separator: ".")
        return LDMRenames.vaeResnet.toLDM(joined) ?? joined
    }

    // MARK: - Tables

    /// SDXL's added embedding is written as `label_emb`.
    private static let unetTopLevel = LDMRenames.timeEmbeddingAndConvIn + .unetOutput + .textTimeEmbedding

    private static let controlNetTopLevel = LDMRenames.timeEmbeddingAndConvIn + .controlNetHint
}
