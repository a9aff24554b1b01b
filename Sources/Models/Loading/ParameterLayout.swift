/// Every tensor a model built from a config holds, by diffusers (or basicsr) name, with its shape:
/// what `save_pretrained` writes for that config. The loaders check exactly these names and
/// shapes, so a file written from this layout loads strictly.
public enum ParameterLayout {
    public typealias Entry = (name: String, shape: [Int])

    /// `UNet2DConditionModel`'s state dict.
    public static func unet(_ config: UNet2DConditionConfig) -> [Entry] {
        let channels = config.blockOutChannels
        let temb = config.timeEmbeddingDim ?? channels[0] * 4
        var entries = timeEmbedding(channels[0], temb) + conv("conv_in", config.inChannels, channels[0], config.convInKernel)
        if let conditionChannels = config.timeCondProjDim {
            entries.append(("time_embedding.cond_proj.weight", [channels[0], conditionChannels]))
        }
        entries += addEmbedding(config, temb: temb)
        entries += downBlocks(config, temb: temb)
        entries += midBlock(config, temb: temb)
        entries += upBlocks(config, temb: temb)
        entries += norm("conv_norm_out", channels[0]) + conv("conv_out", channels[0], config.outChannels, config.convOutKernel)
        return entries
    }

    /// `ControlNetModel`'s state dict.
    public static func controlNet(_ config: ControlNetConfig) -> [Entry] {
        let unetConfig = config.unetConfig
        let channels = config.blockOutChannels
        let temb = channels[0] * 4
        let embedding = config.conditioningEmbeddingOutChannels ?? []
        var entries = timeEmbedding(channels[0], temb) + conv("conv_in", config.inChannels, channels[0], 3)
        entries += addEmbedding(unetConfig, temb: temb)
        entries += conv("controlnet_cond_embedding.conv_in", config.conditioningChannels, embedding.first ?? 0, 3)
        for index in 0 ..< max(0, embedding.count - 1) {
            entries += conv("controlnet_cond_embedding.blocks.\(2 * index)", embedding[index], embedding[index], 3)
            entries += conv("controlnet_cond_embedding.blocks.\(2 * index + 1)", embedding[index], embedding[index + 1], 3)
        }
        entries += conv("controlnet_cond_embedding.conv_out", embedding.last ?? 0, channels[0], 3)
        entries += downBlocks(unetConfig, temb: temb)
        var zeroConvChannels = [channels[0]]
        for (block, width) in channels.enumerated() {
            zeroConvChannels += Array(repeating: width, count: config.layersPerBlock + (block < channels.count - 1 ? 1 : 0))
        }
        for (index, width) in zeroConvChannels.enumerated() {
            entries += conv("controlnet_down_blocks.\(index)", width, width, 1)
        }
        entries += midBlock(unetConfig, temb: temb)
        entries += conv("controlnet_mid_block", channels[channels.count - 1], channels[channels.count - 1], 1)
        return entries
    }

    /// `AutoencoderKL`'s state dict.
    public static func vae(_ config: AutoencoderKLConfig) -> [Entry] {
        let channels = config.blockOutChannels
        let last = channels[channels.count - 1]
        let latent = config.latentChannels
        var entries = conv("encoder.conv_in", config.inChannels, channels[0], 3)
        var input = channels[0]
        for (block, output) in channels.enumerated() {
            for layer in 0 ..< config.layersPerBlock {
                entries += resnet("encoder.down_blocks.\(block).resnets.\(layer)", layer == 0 ? input : output, output, temb: nil)
            }
            if block < channels.count - 1 { entries += conv("encoder.down_blocks.\(block).downsamplers.0.conv", output, output, 3) }
            input = output
        }
        entries += vaeMidBlock("encoder", last, config)
        entries += norm("encoder.conv_norm_out", last) + conv("encoder.conv_out", last, 2 * latent, 3)
        if config.useQuantConv { entries += conv("quant_conv", 2 * latent, 2 * latent, 1) }
        if config.usePostQuantConv { entries += conv("post_quant_conv", latent, latent, 1) }
        entries += conv("decoder.conv_in", latent, last, 3)
        entries += vaeMidBlock("decoder", last, config)
        let reversed = Array(channels.reversed())
        var previous = reversed[0]
        for (block, output) in reversed.enumerated() {
            for layer in 0 ... config.layersPerBlock {
                entries += resnet("decoder.up_blocks.\(block).resnets.\(layer)", layer == 0 ? previous : output, output, temb: nil)
            }
            if block < channels.count - 1 { entries += conv("decoder.up_blocks.\(block).upsamplers.0.conv", output, output, 3) }
            previous = output
        }
        entries += norm("decoder.conv_norm_out", channels[0]) + conv("decoder.conv_out", channels[0], config.outChannels, 3)
        return entries
    }

    /// `AutoencoderTiny`'s state dict: the `layers.N` of its encoder and decoder, numbered as
    /// their nn.Sequential numbers them (ReLU and upsampling layers take an index, no weights).
    public static func autoencoderTiny(_ config: AutoencoderTinyConfig) -> [Entry] {
        func block(_ prefix: String, _ width: Int) -> [Entry] {
            [0, 2, 4].flatMap { conv("\(prefix).conv.\($0)", width, width, 3) }
        }
        var entries: [Entry] = []
        var index = 0
        for (level, count) in config.numEncoderBlocks.enumerated() {
            let width = config.encoderBlockOutChannels[level]
            entries += level == 0 ? conv("encoder.layers.0", config.inChannels, width, 3)
                : [("encoder.layers.\(index).weight", [width, width, 3, 3])]
            index += 1
            for _ in 0 ..< count {
                entries += block("encoder.layers.\(index)", width)
                index += 1
            }
        }
        entries += conv("encoder.layers.\(index)", config.encoderBlockOutChannels.last ?? 0, config.latentChannels, 3)
        let widths = config.decoderBlockOutChannels
        entries += conv("decoder.layers.0", config.latentChannels, widths[0], 3)
        index = 2
        for (level, count) in config.numDecoderBlocks.enumerated() {
            let isLast = level == widths.count - 1
            for _ in 0 ..< count {
                entries += block("decoder.layers.\(index)", widths[level])
                index += 1
            }
            if !isLast { index += 1 }
            let output = isLast ? config.outChannels : widths[level]
            entries += isLast ? conv("decoder.layers.\(index)", widths[level], output, 3)
                : [("decoder.layers.\(index).weight", [output, widths[level], 3, 3])]
            index += 1
        }
        return entries
    }

    /// transformers' `CLIPTextModel` state dict (without the `text_model.` prefix), sorted by name.
    public static func textEncoder(_ config: CLIPTextConfig) -> [Entry] {
        let width = config.hiddenSize
        var entries: [Entry] = [("embeddings.token_embedding.weight", [config.vocabSize, width]),
                                ("embeddings.position_embedding.weight", [config.maxPositionEmbeddings, width])]
        for index in 0 ..< config.numHiddenLayers {
            let layer = "encoder.layers.\(index)"
            entries += norm("\(layer).layer_norm1", width) + norm("\(layer).layer_norm2", width)
            for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                entries += linearLayer("\(layer).self_attn.\(projection)", width, width)
            }
            entries += linearLayer("\(layer).mlp.fc1", width, config.intermediateSize)
                + linearLayer("\(layer).mlp.fc2", config.intermediateSize, width)
        }
        return (entries + norm("final_layer_norm", width)).sorted { $0.name < $1.name }
    }

    /// transformers' `CLIPTextModelWithProjection` state dict (the text model under `text_model.`).
    public static func textEncoderWithProjection(_ config: CLIPTextConfig) -> [Entry] {
        textEncoder(config).map { ("\(CLIPTextModel.legacyModule).\($0.name)", $0.shape) }
            + [("text_projection.weight", [config.projectionDim ?? CLIPTextModelWithProjection.defaultProjectionDim,
                                           config.hiddenSize])]
    }

    /// basicsr's `RRDBNet` state dict.
    public static func rrdbNet(_ architecture: RRDBNetArchitecture) -> [Entry] {
        let (features, growth) = (architecture.features, architecture.growth)
        var entries = conv("conv_first", architecture.firstInputChannels, features, 3)
        for block in 0 ..< architecture.blocks {
            for dense in 1 ... 3 {
                for layer in 1 ... 5 {
                    let input = features + (layer - 1) * growth
                    entries += conv("body.\(block).rdb\(dense).conv\(layer)", input, layer == 5 ? features : growth, 3)
                }
            }
        }
        for name in ["conv_body", "conv_up1", "conv_up2", "conv_hr"] { entries += conv(name, features, features, 3) }
        return entries + conv("conv_last", features, architecture.outChannels, 3)
    }

    // MARK: - UNet pieces

    private static func downBlocks(_ config: UNet2DConditionConfig, temb: Int) -> [Entry] {
        let channels = config.blockOutChannels
        let count = channels.count
        let layers = config.layersPerBlock.values(count: count) ?? []
        let depth = config.transformerLayersPerBlock.values(count: count) ?? []
        let context = config.crossAttentionDim.values(count: count) ?? []
        var entries: [Entry] = []
        var input = channels[0]
        for (block, output) in channels.enumerated() {
            let prefix = "down_blocks.\(block)"
            for layer in 0 ..< layers[block] {
                entries += resnet("\(prefix).resnets.\(layer)", layer == 0 ? input : output, output, temb: temb)
                if config.downBlockTypes[block] == "CrossAttnDownBlock2D" {
                    entries += transformer("\(prefix).attentions.\(layer)", output, context: context[block],
                                           depth: depth[block], linear: config.useLinearProjection)
                }
            }
            if block < count - 1 { entries += conv("\(prefix).downsamplers.0.conv", output, output, 3) }
            input = output
        }
        return entries
    }

    private static func midBlock(_ config: UNet2DConditionConfig, temb: Int) -> [Entry] {
        guard config.midBlockType != nil else { return [] }
        let channels = config.blockOutChannels
        let last = channels[channels.count - 1]
        let depth = config.transformerLayersPerBlock.values(count: channels.count)?.last ?? 1
        let context = config.crossAttentionDim.values(count: channels.count)?.last ?? 0
        return resnet("mid_block.resnets.0", last, last, temb: temb)
            + transformer("mid_block.attentions.0", last, context: context, depth: depth, linear: config.useLinearProjection)
            + resnet("mid_block.resnets.1", last, last, temb: temb)
    }

    private static func upBlocks(_ config: UNet2DConditionConfig, temb: Int) -> [Entry] {
        let count = config.blockOutChannels.count
        let reversed = Array(config.blockOutChannels.reversed())
        let layers = Array((config.layersPerBlock.values(count: count) ?? []).reversed())
        let depth = Array((config.transformerLayersPerBlock.values(count: count) ?? []).reversed())
        let context = Array((config.crossAttentionDim.values(count: count) ?? []).reversed())
        var entries: [Entry] = []
        for (block, output) in reversed.enumerated() {
            let previous = reversed[max(block - 1, 0)]
            let input = reversed[min(block + 1, count - 1)]
            let prefix = "up_blocks.\(block)"
            for layer in 0 ... layers[block] {
                let skip = layer == layers[block] ? input : output
                let resnetInput = layer == 0 ? previous : output
                entries += resnet("\(prefix).resnets.\(layer)", resnetInput + skip, output, temb: temb)
                if config.upBlockTypes[block] == "CrossAttnUpBlock2D" {
                    entries += transformer("\(prefix).attentions.\(layer)", output, context: context[block],
                                           depth: depth[block], linear: config.useLinearProjection)
                }
            }
            if block < count - 1 { entries += conv("\(prefix).upsamplers.0.conv", output, output, 3) }
        }
        return entries
    }

    private static func transformer(_ prefix: String, _ width: Int, context: Int, depth: Int, linear: Bool) -> [Entry] {
        let projection = linear ? [width, width] : [width, width, 1, 1]
        var entries = norm("\(prefix).norm", width)
        entries += [("\(prefix).proj_in.weight", projection), ("\(prefix).proj_in.bias", [width])]
        for index in 0 ..< depth {
            let block = "\(prefix).transformer_blocks.\(index)"
            entries += norm("\(block).norm1", width) + norm("\(block).norm2", width) + norm("\(block).norm3", width)
            for (attention, source) in [("attn1", width), ("attn2", context)] {
                entries += [("\(block).\(attention).to_q.weight", [width, width]),
                            ("\(block).\(attention).to_k.weight", [width, source]),
                            ("\(block).\(attention).to_v.weight", [width, source])]
                entries += linearLayer("\(block).\(attention).to_out.0", width, width)
            }
            entries += linearLayer("\(block).ff.net.0.proj", width, 8 * width) + linearLayer("\(block).ff.net.2", 4 * width, width)
        }
        return entries + [("\(prefix).proj_out.weight", projection), ("\(prefix).proj_out.bias", [width])]
    }

    /// SDXL's text_time `add_embedding` MLP, when the config has one.
    private static func addEmbedding(_ config: UNet2DConditionConfig, temb: Int) -> [Entry] {
        guard config.additionEmbedType == "text_time", let input = config.projectionClassEmbeddingsInputDim else { return [] }
        return linearLayer("add_embedding.linear_1", input, temb) + linearLayer("add_embedding.linear_2", temb, temb)
    }

    private static func timeEmbedding(_ channels: Int, _ temb: Int) -> [Entry] {
        linearLayer("time_embedding.linear_1", channels, temb) + linearLayer("time_embedding.linear_2", temb, temb)
    }

    // MARK: - Shared pieces

    private static func vaeMidBlock(_ side: String, _ width: Int, _ config: AutoencoderKLConfig) -> [Entry] {
        var entries = resnet("\(side).mid_block.resnets.0", width, width, temb: nil)
        if config.midBlockAddAttention {
            let attention = "\(side).mid_block.attentions.0"
            entries += norm("\(attention).group_norm", width)
            for projection in ["to_q", "to_k", "to_v", "to_out.0"] {
                entries += linearLayer("\(attention).\(projection)", width, width)
            }
        }
        return entries + resnet("\(side).mid_block.resnets.1", width, width, temb: nil)
    }

    private static func resnet(_ prefix: String, _ input: Int, _ output: Int, temb: Int?) -> [Entry] {
        var entries = norm("\(prefix).norm1", input) + conv("\(prefix).conv1", input, output, 3)
        if let temb { entries += linearLayer("\(prefix).time_emb_proj", temb, output) }
        entries += norm("\(prefix).norm2", output) + conv("\(prefix).conv2", output, output, 3)
        if input != output { entries += conv("\(prefix).conv_shortcut", input, output, 1) }
        return entries
    }

    private static func conv(_ prefix: String, _ input: Int, _ output: Int, _ kernel: Int) -> [Entry] {
        [("\(prefix).weight", [output, input, kernel, kernel]), ("\(prefix).bias", [output])]
    }

    private static func linearLayer(_ prefix: String, _ input: Int, _ output: Int) -> [Entry] {
        [("\(prefix).weight", [output, input]), ("\(prefix).bias", [output])]
    }

    private static func norm(_ prefix: String, _ width: Int) -> [Entry] {
        [("\(prefix).weight", [width]), ("\(prefix).bias", [width])]
    }
}
