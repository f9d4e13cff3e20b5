package dev.kvasir.models.template;

import dev.kvasir.models.tokenizer.Tokenizer;

/**
 * Chat formats for models that carry no template of their own, written as Jinja so they render
 * through the same path as a model's template.
 */
public enum BuiltInTemplates {

    /** Llama 2 chat: {@code <s>[INST] <<SYS>>...<</SYS>> user [/INST] answer </s>}; Meta's format, as HF shipped it. */
    LLAMA2("""
            {%- if messages[0]['role'] == 'system' -%}
                {%- set system_message = messages[0]['content'] -%}
                {%- set loop_messages = messages[1:] -%}
            {%- else -%}
                {%- set system_message = false -%}
                {%- set loop_messages = messages -%}
            {%- endif -%}
            {%- for message in loop_messages -%}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
                    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
                {%- endif -%}
                {%- if loop.index0 == 0 and system_message != false -%}
                    {%- set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] -%}
                {%- else -%}
                    {%- set content = message['content'] -%}
                {%- endif -%}
                {%- if message['role'] == 'user' -%}
                    {{- bos_token + '[INST] ' + content.strip() + ' [/INST]' -}}
                {%- elif message['role'] == 'assistant' -%}
                    {{- ' ' + content.strip() + ' ' + eos_token -}}
                {%- endif -%}
            {%- endfor -%}"""),

    /** Llama 3 instruct: header tokens around each role, {@code <|eot_id|>} after each turn. */
    LLAMA3("""
            {{- bos_token -}}
            {%- for message in messages -%}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
                {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {%- endif -%}"""),

    /** ChatML: {@code <|im_start|>role\\ncontent<|im_end|>\\n}. */
    CHATML("""
            {%- for message in messages -%}
                {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
                {{- '<|im_start|>assistant\\n' -}}
            {%- endif -%}""");

    private final String source;

    BuiltInTemplates(String source) {
        this.source = source;
    }

    public String source() {
        return source;
    }

    /**
     * The format a vocabulary was made for: Llama 3's header tokens, ChatML's {@code <|im_start|>},
     * else Llama 2's (also the plain choice for base models such as stories260K, whose {@code <s>}
     * and {@code </s>} it uses).
     */
    public static BuiltInTemplates fallbackFor(Tokenizer tokenizer) {
        boolean chatMl = false;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            if (!tokenizer.isSpecial(id)) continue;
            String token = tokenizer.tokenString(id);
            if (token.equals("<|start_header_id|>")) return LLAMA3;
            if (token.equals("<|im_start|>")) chatMl = true;
        }
        return chatMl ? CHATML : LLAMA2;
    }
}
