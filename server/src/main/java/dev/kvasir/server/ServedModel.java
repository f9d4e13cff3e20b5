package dev.kvasir.server;

import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.template.ChatMessage;
import dev.kvasir.models.template.ChatTemplate;
import dev.kvasir.models.template.PromptEncoder;
import dev.kvasir.models.tokenizer.BoundedEncoder;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.server.api.ChatRequest;

import java.util.ArrayList;
import java.util.List;

/**
 * The model as the API sees it: its public name, tokenizer, context limit, and how chat messages
 * and completion prompts become tokens.
 */
public record ServedModel(String name, Tokenizer tokenizer, PromptEncoder chat, BoundedEncoder bounded, int maxModelLen,
                          LoadedModel loaded) {

    public static ServedModel of(LoadedModel loaded, String name, Integer maxModelLen) {
        String fileName = loaded.source().getFileName().toString();
        String defaultName = fileName.endsWith(".gguf") ? fileName.substring(0, fileName.length() - 5) : fileName;
        int contextLength = loaded.config().contextLength();
        if (maxModelLen != null && (maxModelLen < 2 || maxModelLen > contextLength)) {
            throw new IllegalArgumentException("--max-model-len " + maxModelLen + " must be between 2 and the model's context length "
                    + contextLength);
        }
        Tokenizer tokenizer = Tokenizers.load(loaded);
        PromptEncoder chat = new PromptEncoder(ChatTemplate.forModel(loaded, tokenizer), tokenizer);
        return new ServedModel(name != null ? name : defaultName, tokenizer, chat, new BoundedEncoder(tokenizer),
                maxModelLen != null ? maxModelLen : contextLength, loaded);
    }

    /** A completion prompt: BOS first when the tokenizer adds one; special-token text stays text. */
    public int[] encodeText(String text) {
        return tokenizer.encode(text, true, false);
    }

    /**
     * Prompt tokens for a request: at most {@code maxModelLen - 1} (one position is left to generate),
     * else {@link PromptTooLongException}, found in time proportional to that limit however long the text.
     */
    public int[] encodeRequestText(String text) {
        return bounded.encode(text, true, maxModelLen - 1);
    }

    /**
     * Chat messages through the model's template (its own, else the built-in one its vocabulary was
     * made for), ending where the assistant's answer starts. Message content never becomes special
     * tokens, so a user cannot forge a turn boundary.
     */
    public int[] encodeChat(List<ChatRequest.Message> messages) {
        return encodeChat(messages, null);
    }

    /** As {@link #encodeChat(List)}, with the request's {@code tools} bound for the template (null for none). */
    public int[] encodeChat(List<ChatRequest.Message> messages, List<?> tools) {
        return chat.encode(turns(messages), tools, true);
    }

    /** As {@link #encodeChat(List, List)}, with the prompt limit of {@link #encodeRequestText}. */
    public int[] encodeRequestChat(List<ChatRequest.Message> messages, List<?> tools) {
        return chat.encode(turns(messages), tools, true, bounded, maxModelLen - 1);
    }

    private static List<ChatMessage> turns(List<ChatRequest.Message> messages) {
        List<ChatMessage> turns = new ArrayList<>(messages.size());
        for (ChatRequest.Message m : messages) {
            turns.add(new ChatMessage(m.role(), m.content(), m.name(), m.toolCallId(), m.toolCalls()));
        }
        return turns;
    }
}
