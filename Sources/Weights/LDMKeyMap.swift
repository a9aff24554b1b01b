/// Renaming of original LDM (CompVis / A1111 single-file) checkpoint keys to diffusers names,
/// with the per-tensor transforms the conversion needs.
///
/// This implementation matches diffusers' `convert_ldm_unet_checkpoint`,
/// `convert_controlnet_checkpoint`, `convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint` and
/// `convert_open_clip_checkpoint` (diffusers/loaders/single_file_utils.py) for SD 1.x / 2.x and
/// SDXL (`label_emb` as `add_embedding`, OpenCLIP bigG with every layer and its projection).
/// Keys arrive with their component prefix (`model.diffusion_model.`, `first_stage_model.`, ...)
/// already removed. Text-encoder names are those transformers 5 uses for `CLIPTextModel`, i.e.
/// without the `text_model.` prefix older checkpoints carry.
///
/// Limitations: no EMA extraction.
public enum LDMKeyMap {
    /// UNet key (after `model.diffusion_model.`). `layersPerBlock` is the diffusers config value;
    /// `textTime`: SDXL's UNet, whose `label_emb` is the added (text_time) embedding.
    public static func unet(_ key: String, layersPerBlock: Int, textTime: Bool = false) -> KeyRename {
        if textTime, let renamed = LDMRenames.textTimeEmbedding.toDiffusers(key) { return .tensors([RenamedTensor(renamed)]) }
        if let renamed = unetTopLevel.toDiffusers(key) ?? (key == "label_emb.weight" ? "class_embedding.weight" : nil) {
            return .tensors([RenamedTensor(renamed)])
        }
        return blocks(key, layersPerBlock: layersPerBlock)
    }

    /// ControlNet key (after `control_model.`, or a bare ControlNet file's key).
    public static func controlNet(_ key: String, layersPerBlock: Int) -> KeyRename {
        if let renamed = controlNetTopLevel.toDiffusers(key) {
            return .tensors([RenamedTensor(renamed)])
        }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 4, parts[0] == "zero_convs", Int(parts[1]) != nil, parts[2] == "0" {
            return .tensors([RenamedTensor("controlnet_down_blocks.\(parts[1]).\(parts[3])")])
        }
        if parts.count == 3, parts[0] == "input_hint_block", let index = Int(parts[1]), index >= 2, index < 14, index % 2 == 0 {
            return .tensors([RenamedTensor("controlnet_cond_embedding.blocks.\(index / 2 - 1).\(parts[2])")])
        }
        return blocks(key, layersPerBlock: layersPerBlock)
    }

    /// VAE key (after `first_stage_model.`). `upBlockCount` is the number of decoder up blocks.
    public static func vae(_ key: String, upBlockCount: Int) -> KeyRename {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == "encoder" || parts[0] == "decoder" else {
            return vaeTopLevel.contains(key) ? .tensors([RenamedTensor(key)]) : .unknown
        }
        let side = parts[0]
        let rest = Array(parts.dropFirst())
        switch rest[0] {
        case "conv_in", "conv_out":
            return .tensors([RenamedTensor(key)])
        case "norm_out":
            return .tensors([RenamedTensor("\(side).conv_norm_out.\(rest[1...].joined(separator: "."))")])
        case "mid":
            return vaeMid(side: side, rest: Array(rest.dropFirst()))
        case "down" where side == "encoder", "up" where side == "decoder":
            return vaeSampling(side: side, rest: rest, upBlockCount: upBlockCount)
        default:
            return .unknown
        }
    }

    /// SD 1.x CLIP text-encoder key (after `cond_stage_model.transformer.`).
    public static func clip(_ key: String) -> KeyRename {
        let name = key.hasPrefix("text_model.") ? String(key.dropFirst("text_model.".count)) : key
        return name == "embeddings.position_ids" ? .ignored : .tensors([RenamedTensor(name)])
    }

    /// SD 2.x OpenCLIP text-encoder key (after `cond_stage_model.model.`).
    public static func openCLIP(_ key: String) -> KeyRename { openCLIP(key, withProjection: false) }

    /// SDXL's OpenCLIP bigG key (after `conditioner.embedders.1.model.`, or `.0.` in a refiner):
    /// every layer kept (SDXL reads the penultimate hidden state and the final pooled output)
    /// and `text_projection` transposed into `CLIPTextModelWithProjection`'s linear weight.
    public static func openCLIPWithProjection(_ key: String) -> KeyRename { openCLIP(key, withProjection: true) }

    private static func openCLIP(_ key: String, withProjection: Bool) -> KeyRename {
        if let renamed = LDMRenames.openCLIPTopLevel.diffusers(key) { return .tensors([RenamedTensor(renamed)]) }
        if withProjection && key == "text_projection" { return .tensors([RenamedTensor("text_projection.weight", .transposed)]) }
        if openCLIPIgnored.contains(key) { return .ignored }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, parts[0] == "transformer", parts[1] == "resblocks", let layer = Int(parts[2]) else {
            return .unknown
        }
        // diffusers drops the last of SD 2's 24 blocks: the pipeline uses the penultimate layer.
        if !withProjection && layer == 23 { return .ignored }
        let base = "encoder.layers.\(layer)."
        let rest = parts[3...].joined(separator: ".")
        if rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias" {
            let leaf = rest.hasSuffix("weight") ? "weight" : "bias"
            return .tensors(["q", "k", "v"].enumerated().map { index, name in
                RenamedTensor("\(base)self_attn.\(name)_proj.\(leaf)", .rowChunk(index: index, count: 3))
            })
        }
        guard let renamed = LDMRenames.openCLIPBlock.toDiffusers(rest) else { return .unknown }
        return .tensors([RenamedTensor(base + renamed)])
    }

    /// A diffusers text-encoder folder's key, normalised to transformers 5 names.
    public static func transformersCLIP(_ key: String) -> KeyRename { clip(key) }

    // MARK: - UNet and ControlNet blocks

    private static func blocks(_ key: String, layersPerBlock: Int) -> KeyRename {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let slot = layersPerBlock + 1
        if parts.count >= 4, parts[0] == "input_blocks", let index = Int(parts[1]), index >= 1, let child = Int(parts[2]) {
            let block = (index - 1) / slot, layer = (index - 1) % slot
            let rest = parts[3...].joined(separator: ".")
            return inputBlock(block: block, layer: layer, child: child, rest: rest)
        }
        if parts.count >= 3, parts[0] == "middle_block", let child = Int(parts[1]) {
            let rest = parts[2...].joined(separator: ".")
            switch child {
            case 0, 2: return resnet(rest, into: "mid_block.resnets.\(child / 2)")
            case 1: return .tensors([RenamedTensor("mid_block.attentions.0.\(rest)")])
            default: return .unknown
            }
        }
        if parts.count >= 4, parts[0] == "output_blocks", let index = Int(parts[1]), let child = Int(parts[2]) {
            let block = index / slot, layer = index % slot
            let rest = parts[3...].joined(separator: ".")
            return outputBlock(block: block, layer: layer, child: child, rest: rest)
        }
        return .unknown
    }

    private static func inputBlock(block: Int, layer: Int, child: Int, rest: String) -> KeyRename {
        switch child {
        case 0 where rest.hasPrefix("op."):
            return .tensors([RenamedTensor("down_blocks.\(block).downsamplers.0.conv.\(rest.dropFirst(3))")])
        case 0:
            return resnet(rest, into: "down_blocks.\(block).resnets.\(layer)")
        case 1:
            return .tensors([RenamedTensor("down_blocks.\(block).attentions.\(layer).\(rest)")])
        default:
            return .unknown
        }
    }

    private static func outputBlock(block: Int, layer: Int, child: Int, rest: String) -> KeyRename {
        switch child {
        case 0:
            return resnet(rest, into: "up_blocks.\(block).resnets.\(layer)")
        case 1 where rest.hasPrefix("conv."), 2 where rest.hasPrefix("conv."):
            return .tensors([RenamedTensor("up_blocks.\(block).upsamplers.0.conv.\(rest.dropFirst(5))")])
        case 1:
            return .tensors([RenamedTensor("up_blocks.\(block).attentions.\(layer).\(rest)")])
        default:
            return .unknown
        }
    }

    private static func resnet(_ rest: String, into prefix: String) -> KeyRename {
        guard let renamed = LDMRenames.unetResnet.toDiffusers(rest) else { return .unknown }
        return .tensors([RenamedTensor("\(prefix).\(renamed)")])
    }

    // MARK: - VAE

    private static func vaeMid(side: String, rest: [String]) -> KeyRename {
        guard rest.count >= 2 else { return .unknown }
        let tail = rest[1...].joined(separator: ".")
        switch rest[0] {
        case "block_1", "block_2":
            let index = rest[0] == "block_1" ? 0 : 1
            return .tensors([RenamedTensor("\(side).mid_block.resnets.\(index).\(vaeResnetTail(tail))")])
        case "attn_1":
            guard rest.count == 3, let module = LDMRenames.vaeAttention.diffusers(rest[1]) else { return .unknown }
            let transform: TensorTransform = rest[1] != "norm" && rest[2] == "weight" ? .dropTrailingUnitDimensions : .identity
            return .tensors([RenamedTensor("\(side).mid_block.attentions.0.\(module).\(rest[2])", transform)])
        default:
            return .unknown
        }
    }

    private static func vaeSampling(side: String, rest: [String], upBlockCount: Int) -> KeyRename {
        guard rest.count >= 4, let index = Int(rest[1]) else { return .unknown }
        let isDown = rest[0] == "down"
        let block = isDown ? index : upBlockCount - 1 - index
        let target = "\(side).\(isDown ? "down_blocks" : "up_blocks").\(block)"
        switch rest[2] {
        case "block":
            guard rest.count >= 5 else { return .unknown }
            return .tensors([RenamedTensor("\(target).resnets.\(rest[3]).\(vaeResnetTail(rest[4...].joined(separator: ".")))")])
        case "downsample" where isDown, "upsample" where !isDown:
            guard rest[3] == "conv" else { return .unknown }
            return .tensors([RenamedTensor("\(target).\(isDown ? "downsamplers" : "upsamplers").0.\(rest[3...].joined(separator: "."))")])
        default:
            return .unknown
        }
    }

    private static func vaeResnetTail(_ tail: String) -> String {
        LDMRenames.vaeResnet.toDiffusers(tail) ?? tail
    }

    // MARK: - Tables

    private static let unetTopLevel = LDMRenames.timeEmbeddingAndConvIn + .unetOutput + .classEmbedding

    private static let controlNetTopLevel = LDMRenames.timeEmbeddingAndConvIn + .controlNetHint + .classEmbedding

    private static let vaeTopLevel: Set<String> = ["quant_conv.weight", "quant_conv.bias", "post_quant_conv.weight", "post_quant_conv.bias"]

    /// Unused by the diffusers text encoder: the CLIP image-text projection and temperature.
    private static let openCLIPIgnored: Set<String> = ["text_projection", "logit_scale"]
}
