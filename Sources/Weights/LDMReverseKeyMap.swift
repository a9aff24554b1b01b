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
        if let renamed = swapPrefix(name, topLevel) { return renamed }
        let parts = name.split(separator: ".").map(String.init)
        if parts.first == "mid_block" { return midBlock(parts) }
        let slot = layersPerBlock + 1
        guard parts.count >= 4, let block = Int(parts[1]) else { return nil }
        let tail = parts[4...].joined(separator: ".")
        switch (parts[0], parts[2]) {
        case ("down_blocks", "resnets"):
            guard let layer = Int(parts[3]), let resnet = swapPrefix(tail, resnetNames) else { return nil }
            return "input_blocks.\(1 + block * slot + layer).0.\(resnet)"
        case ("down_blocks", "attentions"):
            guard let layer = Int(parts[3]) else { return nil }
            return "input_blocks.\(1 + block * slot + layer).1.\(tail)"
        case ("down_blocks", "downsamplers"):
            guard parts.count >= 5, parts[4] == "conv" else { return nil }
            return "input_blocks.\((block + 1) * slot).0.op.\(parts[5...].joined(separator: "."))"
        case ("up_blocks", "resnets"):
            guard let layer = Int(parts[3]), let resnet = swapPrefix(tail, resnetNames) else { return nil }
            return "output_blocks.\(block * slot + layer).0.\(resnet)"
        case ("up_blocks", "attentions"):
            guard let layer = Int(parts[3]) else { return nil }
            return "output_blocks.\(block * slot + layer).1.\(tail)"
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
        if let renamed = swapPrefix(name, controlNetTopLevel) { return renamed }
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
            guard let renamed = vaeAttention[module] else { return nil }
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
        if let renamed = openCLIPTopLevel[name] { return Target(renamed) }
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
        return swapPrefix(rest, openCLIPBlock).map { Target(base + $0) }
    }

    // MARK: - Pieces

    private static func midBlock(_ parts: [String]) -> String? {
        guard parts.count >= 4, parts[0] == "mid_block", let index = Int(parts[2]) else { return nil }
        let tail = parts[3...].joined(separator: ".")
        switch parts[1] {
        case "resnets": return swapPrefix(tail, resnetNames).map { "middle_block.\(2 * index).\($0)" }
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
        return swapPrefix(joined, [("conv_shortcut", "nin_shortcut")]) ?? joined
    }

    private static func swapPrefix(_ key: String, _ table: [(String, String)]) -> String? {
        for (old, new) in table where key.hasPrefix(old + ".") {
            return new + key.dropFirst(old.count)
        }
        return nil
    }

    private static let topLevel = [
        ("time_embedding.linear_1", "time_embed.0"), ("time_embedding.linear_2", "time_embed.2"),
        ("conv_in", "input_blocks.0.0"), ("conv_norm_out", "out.0"), ("conv_out", "out.2"),
        ("add_embedding.linear_1", "label_emb.0.0"), ("add_embedding.linear_2", "label_emb.0.2"),
    ]

    private static let controlNetTopLevel = [
        ("time_embedding.linear_1", "time_embed.0"), ("time_embedding.linear_2", "time_embed.2"),
        ("conv_in", "input_blocks.0.0"), ("controlnet_cond_embedding.conv_in", "input_hint_block.0"),
        ("controlnet_cond_embedding.conv_out", "input_hint_block.14"), ("controlnet_mid_block", "middle_block_out.0"),
    ]

    private static let resnetNames = [
        ("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
        ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"),
    ]

    private static let vaeAttention = ["group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"]

    private static let openCLIPTopLevel = [
        "embeddings.position_embedding.weight": "positional_embedding",
        "embeddings.token_embedding.weight": "token_embedding.weight",
        "final_layer_norm.weight": "ln_final.weight", "final_layer_norm.bias": "ln_final.bias",
    ]

    private static let openCLIPBlock = [
        ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
        ("self_attn.out_proj", "attn.out_proj"),
    ]
}
