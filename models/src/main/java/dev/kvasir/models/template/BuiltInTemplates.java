package dev.kvasir.models.template;

import dev.kvasir.models.tokenizer.Tokenizer;

/**
 * Chat formats for models that carry no template of their own, written as Jinja so they render
 * through the same path as a model's template.
 */
public enum BuiltInTemplates {

    /**
     * Llama 2 chat: {@code <s>[INST] <<SYS>>...<</SYS>> user [/INST] answer </s>}; Meta's format, as
     * HF shipped it. The format has no tool role: a tool result goes inside {@code [INST]}, marked
     * {@code [Tool result for call ID]}, and merges with the user and tool messages next to it into
     * one turn; an answer's tool calls are JSON lines after its text; tool definitions join the
     * system block. Roles it cannot place are refused, never dropped.
     */
    LLAMA2("""
            {%- macro tool_prompt(tools) -%}
                {{- 'You have access to the following functions. To call a function, respond with JSON in the format '
                    + '{"name": function name, "arguments": dictionary of argument name and its value}.' -}}
                {%- for t in tools -%}
                    {{- '\n\n' + (t | tojson(indent=4)) -}}
                {%- endfor -%}
            {%- endmacro -%}
            {%- if messages[0]['role'] == 'system' -%}
                {%- set system_message = messages[0]['content'].strip() if messages[0]['content'] is string else '' -%}
                {%- set loop_messages = messages[1:] -%}
            {%- else -%}
                {%- set system_message = '' -%}
                {%- set loop_messages = messages -%}
            {%- endif -%}
            {%- for message in loop_messages -%}
                {%- set role = message['role'] -%}
                {%- set prev = loop_messages[loop.index0 - 1]['role'] if not loop.first else '' -%}
                {%- set next = loop_messages[loop.index0 + 1]['role'] if not loop.last else '' -%}
                {%- set content = message['content'].strip() if message['content'] is string else '' -%}
                {%- if role == 'user' or role == 'tool' -%}
                    {%- if role == 'user' and prev == 'user' -%}
                        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
                    {%- endif -%}
                    {%- if prev == 'user' or prev == 'tool' -%}
                        {{- '\n\n' -}}
                    {%- else -%}
                        {{- bos_token + '[INST] ' -}}
                        {%- if loop.first and (system_message or tools) -%}
                            {{- '<<SYS>>\n' + system_message -}}
                            {%- if tools -%}
                                {{- ('\n\n' if system_message else '') + tool_prompt(tools) -}}
                            {%- endif -%}
                            {{- '\n<</SYS>>\n\n' -}}
                        {%- endif -%}
                    {%- endif -%}
                    {%- if role == 'tool' -%}
                        {{- ('[Tool result for call ' + message['tool_call_id'] + ']' if 'tool_call_id' in message else '[Tool result]') + '\n' -}}
                    {%- endif -%}
                    {{- content -}}
                    {%- if next != 'user' and next != 'tool' -%}
                        {{- ' [/INST]' -}}
                    {%- endif -%}
                {%- elif role == 'assistant' -%}
                    {%- if prev != 'user' and prev != 'tool' -%}
                        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
                    {%- endif -%}
                    {{- ' ' + content -}}
                    {%- if 'tool_calls' in message -%}
                        {%- for call in message['tool_calls'] -%}
                            {%- if content or not loop.first -%}
                                {{- '\n' -}}
                            {%- endif -%}
                            {{- '{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments | tojson) + '}' -}}
                        {%- endfor -%}
                    {%- endif -%}
                    {{- ' ' + eos_token -}}
                {%- else -%}
                    {{- raise_exception('The llama-2 chat format has no place for a ' + role + ' message after the first turn') -}}
                {%- endif -%}
            {%- endfor -%}"""),

    /**
     * Llama 3 instruct: header tokens around each role, {@code <|eot_id|>} after each turn. Tools as
     * Meta's Llama 3.1 template renders them: {@code Environment: ipython} and the definitions in the
     * system turn, a call as {@code {"name": ..., "parameters": ...}}, a result under the
     * {@code ipython} header.
     */
    LLAMA3("""
            {%- macro tool_prompt(tools) -%}
                {{- 'Environment: ipython\n\nYou have access to the following functions. To call a function, please respond with JSON for a function call. '
                    + 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.' -}}
                {%- for t in tools -%}
                    {{- '\n\n' + (t | tojson(indent=4)) -}}
                {%- endfor -%}
            {%- endmacro -%}
            {{- bos_token -}}
            {%- if tools and messages[0]['role'] != 'system' -%}
                {{- '<|start_header_id|>system<|end_header_id|>\n\n' + tool_prompt(tools) + '<|eot_id|>' -}}
            {%- endif -%}
            {%- for message in messages -%}
                {%- set content = message['content'] | trim if message['content'] is string else '' -%}
                {%- if message['role'] == 'tool' or message['role'] == 'ipython' -%}
                    {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' -}}
                {%- else -%}
                    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' -}}
                {%- endif -%}
                {%- if loop.first and message['role'] == 'system' and tools -%}
                    {{- tool_prompt(tools) + ('\n\n' if content else '') -}}
                {%- endif -%}
                {{- content -}}
                {%- if 'tool_calls' in message -%}
                    {%- for call in message['tool_calls'] -%}
                        {%- if content or not loop.first -%}
                            {{- '\n' -}}
                        {%- endif -%}
                        {{- '{"name": "' + call.function.name + '", "parameters": ' + (call.function.arguments | tojson) + '}' -}}
                    {%- endfor -%}
                {%- endif -%}
                {{- '<|eot_id|>' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
                {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {%- endif -%}"""),

    /**
     * ChatML: {@code <|im_start|>role\ncontent<|im_end|>\n}; a tool result in its own {@code tool}
     * turn, calls and definitions as Qwen 2.5 / Hermes write them ({@code <tool_call>} and
     * {@code <tools>} blocks).
     */
    CHATML("""
            {%- macro tool_prompt(tools) -%}
                {{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n'
                    + 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
                {%- for t in tools -%}
                    {{- '\n' + (t | tojson) -}}
                {%- endfor -%}
                {{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within '
                    + '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' -}}
            {%- endmacro -%}
            {%- if tools and messages[0]['role'] != 'system' -%}
                {{- '<|im_start|>system\n' + tool_prompt(tools) + '<|im_end|>\n' -}}
            {%- endif -%}
            {%- for message in messages -%}
                {%- set content = message['content'] if message['content'] is string else '' -%}
                {{- '<|im_start|>' + message['role'] + '\n' + content -}}
                {%- if loop.first and message['role'] == 'system' and tools -%}
                    {{- ('\n\n' if content else '') + tool_prompt(tools) -}}
                {%- endif -%}
                {%- if 'tool_calls' in message -%}
                    {%- for call in message['tool_calls'] -%}
                        {%- if content or not loop.first -%}
                            {{- '\n' -}}
                        {%- endif -%}
                        {{- '<tool_call>\n{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments | tojson) + '}\n</tool_call>' -}}
                    {%- endfor -%}
                {%- endif -%}
                {{- '<|im_end|>\n' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
                {{- '<|im_start|>assistant\n' -}}
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
