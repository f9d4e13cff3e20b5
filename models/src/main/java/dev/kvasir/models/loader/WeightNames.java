package dev.kvasir.models.loader;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Hugging Face Llama tensor names mapped onto GGUF's, the names the rest of Kvasir uses. */
final class WeightNames {

    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

    private WeightNames() {}

    /** The GGUF name of an HF tensor, or null for tensors a Llama forward pass does not use. */
    static String ggufName(String hfName) {
        switch (hfName) {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
            default: break;
        }
        Matcher m = LAYER.matcher(hfName);
        if (!m.matches()) return null;
        String blk = "blk." + m.group(1) + ".";
        return switch (m.group(2)) {
            case "input_layernorm.weight" -> blk + "attn_norm.weight";
            case "self_attn.q_proj.weight" -> blk + "attn_q.weight";
            case "self_attn.k_proj.weight" -> blk + "attn_k.weight";
            case "self_attn.v_proj.weight" -> blk + "attn_v.weight";
            case "self_attn.o_proj.weight" -> blk + "attn_output.weight";
            case "post_attention_layernorm.weight" -> blk + "ffn_norm.weight";
            case "mlp.gate_proj.weight" -> blk + "ffn_gate.weight";
            case "mlp.up_proj.weight" -> blk + "ffn_up.weight";
            case "mlp.down_proj.weight" -> blk + "ffn_down.weight";
            default -> null;
        };
    }
}
