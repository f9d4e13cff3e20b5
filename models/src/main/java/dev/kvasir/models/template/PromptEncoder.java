package dev.kvasir.models.template;

import dev.kvasir.models.tokenizer.BoundedEncoder;
import dev.kvasir.models.tokenizer.PromptTooLongException;
import dev.kvasir.models.tokenizer.TextSpan;
import dev.kvasir.models.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Messages to prompt token ids, with special tokens coming only from the template. Before
 * rendering, every special-token string inside message fields is swapped for a placeholder of
 * private-use characters; after rendering, the rendered text is tokenized with special tokens
 * recognised, and each placeholder becomes its original string again as ordinary text. Everything
 * else renders exactly as it would untouched (a template's {@code trim} or {@code strip} still
 * sees the real content ends), and ordinary text is tokenized as one, as though the prompt were a
 * single string.
 */
public final class PromptEncoder {

    private final ChatTemplate template;
    private final Tokenizer tokenizer;
    /** Strings a message must not turn into special tokens: the tokenizer's special tokens. */
    private final List<String> specialStrings = new ArrayList<>();
    private final boolean addsBos;

    public PromptEncoder(ChatTemplate template, Tokenizer tokenizer) {
        this.template = template;
        this.tokenizer = tokenizer;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            if (tokenizer.isSpecial(id) && !tokenizer.tokenString(id).isEmpty()) specialStrings.add(tokenizer.tokenString(id));
        }
        // Longest first, so "<|im_end|>" is replaced whole and not as a shorter special inside it.
        specialStrings.sort((a, b) -> Integer.compare(b.length(), a.length()));
        int[] bosOnly = tokenizer.encode("", true, false);
        this.addsBos = bosOnly.length == 1 && bosOnly[0] == tokenizer.bosId();
    }

    /** Prompt ids; BOS first when the model uses one, added only if the template did not emit it. */
    public int[] encode(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return encode(messages, null, addGenerationPrompt);
    }

    /**
     * As {@link #encode(List, boolean)}, with the functions the model may call bound as the
     * template's {@code tools} (OpenAI's tool objects as plain JSON values), or null for none.
     */
    public int[] encode(List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt) {
        return withBos(tokenizer.encode(spans(messages, tools, addGenerationPrompt), false));
    }

    /**
     * As {@link #encode(List, List, boolean)} with a cut-off: {@link PromptTooLongException} as soon as
     * the prompt is known to take more than {@code limit} tokens, its messages' text checked before
     * the template even renders.
     */
    public int[] encode(List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt, BoundedEncoder bounded, int limit) {
        long bytes = 0;
        for (ChatMessage m : messages) if (m.content() != null) bytes += m.content().getBytes(StandardCharsets.UTF_8).length;
        bounded.checkBytes(bytes, limit);
        int[] ids = withBos(bounded.encode(spans(messages, tools, addGenerationPrompt), false, limit - (addsBos ? 1 : 0)));
        if (ids.length > limit) throw new PromptTooLongException(ids.length, limit, true);
        return ids;
    }

    private int[] withBos(int[] ids) {
        if (!addsBos || (ids.length > 0 && ids[0] == tokenizer.bosId())) return ids;
        int[] withBos = new int[ids.length + 1];
        withBos[0] = tokenizer.bosId();
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    /** The rendered prompt as spans: template text (special tokens allowed) and neutralised message text. */
    public List<TextSpan> spans(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return spans(messages, null, addGenerationPrompt);
    }

    /**
     * As {@link #spans(List, boolean)} with {@code tools}. Every string a client sent is masked:
     * message fields, tool-call names and arguments, tool definitions (keys and values).
     */
    public List<TextSpan> spans(List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt) {
        char marker = unusedPrivateUseChar(messages, tools);
        List<String> originals = new ArrayList<>();
        List<ChatMessage> masked = messages.stream().map(m -> new ChatMessage(
                mask(m.role(), marker, originals), mask(m.content(), marker, originals),
                mask(m.name(), marker, originals), mask(m.toolCallId(), marker, originals),
                m.toolCalls().stream().map(c -> new ChatMessage.ToolCall(mask(c.id(), marker, originals),
                        mask(c.name(), marker, originals), maskValue(c.arguments(), marker, originals))).toList())).toList();
        String rendered = tools == null ? template.render(masked, addGenerationPrompt)
                : template.render(masked, addGenerationPrompt, Map.of("tools", maskValue(tools, marker, originals)));
        return unmask(rendered, marker, originals);
    }

    /** A JSON value with {@link #mask} applied to every string in it, map keys included. */
    private Object maskValue(Object value, char marker, List<String> originals) {
        return switch (value) {
            case String s -> mask(s, marker, originals);
            case Map<?, ?> map -> {
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    out.put(mask(String.valueOf(e.getKey()), marker, originals), maskValue(e.getValue(), marker, originals));
                }
                yield out;
            }
            case List<?> list -> {
                List<Object> out = new ArrayList<>(list.size());
                for (Object item : list) out.add(maskValue(item, marker, originals));
                yield out;
            }
            case null, default -> value;
        };
    }

    /** {@code text} with each special string replaced by marker, its index, marker. */
    private String mask(String text, char marker, List<String> originals) {
        if (text == null || specialStrings.isEmpty()) return text;
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        outer:
        while (i < text.length()) {
            for (String special : specialStrings) {
                if (text.startsWith(special, i)) {
                    out.append(marker).append(originals.size()).append(marker);
                    originals.add(special);
                    i += special.length();
                    continue outer;
                }
            }
            out.append(text.charAt(i++));
        }
        return out.toString();
    }

    private static List<TextSpan> unmask(String rendered, char marker, List<String> originals) {
        List<TextSpan> spans = new ArrayList<>();
        int from = 0;
        while (true) {
            int open = rendered.indexOf(marker, from);
            int close = open < 0 ? -1 : rendered.indexOf(marker, open + 1);
            if (close < 0) break;
            if (open > from) spans.add(new TextSpan(rendered.substring(from, open), true));
            spans.add(new TextSpan(originals.get(Integer.parseInt(rendered.substring(open + 1, close))), false));
            from = close + 1;
        }
        if (from < rendered.length()) spans.add(new TextSpan(rendered.substring(from), true));
        return spans;
    }

    /** A private-use character no message field or tool definition contains, so placeholders cannot be forged either. */
    private static char unusedPrivateUseChar(List<ChatMessage> messages, List<?> tools) {
        BitSet used = new BitSet(0x10000);
        for (ChatMessage m : messages) {
            markUsed(List.of(m.role()), used);
            markUsed(Arrays.asList(m.content(), m.name(), m.toolCallId()), used);
            for (ChatMessage.ToolCall c : m.toolCalls()) markUsed(Arrays.asList(c.id(), c.name(), c.arguments()), used);
        }
        markUsed(tools, used);
        int free = used.previousClearBit(0xF8FF);
        if (free < 0xE000) throw new IllegalArgumentException("messages use every private-use character; cannot mark their special strings");
        return (char) free;
    }

    private static void markUsed(Object value, BitSet used) {
        switch (value) {
            case String s -> s.chars().forEach(used::set);
            case Map<?, ?> map -> map.forEach((k, v) -> {
                markUsed(String.valueOf(k), used);
                markUsed(v, used);
            });
            case Iterable<?> items -> items.forEach(item -> markUsed(item, used));
            case null, default -> { }
        }
    }
}
