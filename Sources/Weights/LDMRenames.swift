/// Names that original LDM checkpoints and diffusers write differently, each pair written once
/// (LDM name first): `LDMKeyMap` renames by these tables one way, `LDMReverseKeyMap` the other,
/// so the two directions cannot drift apart.
struct LDMRenames: Sendable {
    let pairs: [(ldm: String, diffusers: String)]

    init(_ pairs: [(ldm: String, diffusers: String)]) {
        self.pairs = pairs
    }

    static func + (first: LDMRenames, second: LDMRenames) -> LDMRenames {
        LDMRenames(first.pairs + second.pairs)
    }

    /// The diffusers name of the LDM name `name` (whole names, not prefixes).
    func diffusers(_ name: String) -> String? {
        pairs.first { $0.ldm == name }?.diffusers
    }

    /// The LDM name of the diffusers name `name` (whole names, not prefixes).
    func ldm(_ name: String) -> String? {
        pairs.first { $0.diffusers == name }?.ldm
    }

    /// `key` with its first LDM prefix in the table renamed to diffusers'.
    func toDiffusers(_ key: String) -> String? {
        Self.renamePrefix(key, pairs.lazy.map { ($0.ldm, $0.diffusers) })
    }

    /// `key` with its first diffusers prefix in the table renamed to LDM's.
    func toLDM(_ key: String) -> String? {
        Self.renamePrefix(key, pairs.lazy.map { ($0.diffusers, $0.ldm) })
    }

    /// Replaces the first matching prefix (each ending at a name boundary).
    private static func renamePrefix(_ key: String, _ table: some Sequence<(String, String)>) -> String? {
        for (old, new) in table where key.hasPrefix(old + ".") {
            return new + key.dropFirst(old.count)
        }
        return nil
    }
}

extension LDMRenames {
    /// What every UNet and ControlNet starts with.
    static let timeEmbeddingAndConvIn = LDMRenames([
        ("time_embed.0", "time_embedding.linear_1"), ("time_embed.2", "time_embedding.linear_2"),
        ("input_blocks.0.0", "conv_in"),
    ])

    static let unetOutput = LDMRenames([("out.0", "conv_norm_out"), ("out.2", "conv_out")])

    static let classEmbedding = LDMRenames([
        ("label_emb.0.0", "class_embedding.linear_1"), ("label_emb.0.2", "class_embedding.linear_2"),
    ])

    /// SDXL's `label_emb`: the added (text_time) embedding.
    static let textTimeEmbedding = LDMRenames([
        ("label_emb.0.0", "add_embedding.linear_1"), ("label_emb.0.2", "add_embedding.linear_2"),
    ])

    /// The ControlNet's hint encoder ends and its mid-block output convolution.
    static let controlNetHint = LDMRenames([
        ("input_hint_block.0", "controlnet_cond_embedding.conv_in"),
        ("input_hint_block.14", "controlnet_cond_embedding.conv_out"), ("middle_block_out.0", "controlnet_mid_block"),
    ])

    static let unetResnet = LDMRenames([
        ("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"), ("out_layers.3", "conv2"),
        ("emb_layers.1", "time_emb_proj"), ("skip_connection", "conv_shortcut"),
    ])

    static let vaeResnet = LDMRenames([("nin_shortcut", "conv_shortcut")])

    /// The VAE mid-block attention's modules (whole names).
    static let vaeAttention = LDMRenames([
        ("norm", "group_norm"), ("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("proj_out", "to_out.0"),
    ])

    /// OpenCLIP's tensors outside its blocks (whole names).
    static let openCLIPTopLevel = LDMRenames([
        ("positional_embedding", "embeddings.position_embedding.weight"),
        ("token_embedding.weight", "embeddings.token_embedding.weight"),
        ("ln_final.weight", "final_layer_norm.weight"), ("ln_final.bias", "final_layer_norm.bias"),
    ])

    static let openCLIPBlock = LDMRenames([
        ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2"),
        ("attn.out_proj", "self_attn.out_proj"),
    ])
}
