package dev.kvasir.server;

import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.tokenizer.TextSpan;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.server.api.ChatRequest;

import java.util.ArrayList;
import java.util.List;

/**
 * The model as the API sees it: its public name, tokenizer, context limit, and how chat messages
 * and completion prompts become tokens.
 */
public record ServedModel(String name, Tokenizer tokenizer, int maxModelLen, LoadedModel loaded) {

    static ServedModel of(LoadedModel loaded, String name, Integer maxModelLen) {
        String fileName = loaded.source().getFileName().toString();
        String defaultName = fileName.endsWith(".gguf") ? fileName.substring(0, fileName.length() - 5) : fileName;
        int contextLength = loaded.config().contextLength();
        if (maxModelLen != null && (maxModelLen < 2 || maxModelLen > contextLength)) {
            throw new IllegalArgumentException("--max-model-len " + maxModelLen + " must be between 2 and the model's context length "
                    + contextLength);
        }
        return new ServedModel(name != null ? name : defaultName, Tokenizers.load(loaded),
                maxModelLen != null ? maxModelLen : contextLength, loaded);
    }

    /** A completion prompt: BOS first when the tokenizer adds one; special-token text stays text. */
    public int[] encodeText(String text) {
        return tokenizer.encode(text, true, false);
    }

    /**
     * Chat messages through the model's template; message content is never parsed for special
     * tokens, so a user cannot forge a turn boundary.
     */
    public int[] encodeChat(List<ChatRequest.Message> messages) {
        List<TextSpan> spans = new ArrayList<>();
        for (ChatRequest.Message m : messages) {
            spans.add(new TextSpan(m.role() + ": ", false));
            spans.add(new TextSpan(m.content(), false));
            spans.add(new TextSpan("\n", false));
        }
        spans.add(new TextSpan("assistant:", false));
        return tokenizer.encode(spans, true);
    }
}
