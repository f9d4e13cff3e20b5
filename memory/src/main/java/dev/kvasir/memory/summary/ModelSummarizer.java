package dev.kvasir.memory.summary;

import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.MemoryModel;
import dev.kvasir.memory.TokenCounter;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The served model summarizes, asked to keep the facts, decisions and preferences. An answer that
 * is empty or shorter than a sentence counts as none (the caller falls back to extractive); a long
 * one is cut to the budget at a word.
 */
public final class ModelSummarizer implements Summarizer {
    private static final Logger LOG = LoggerFactory.getLogger(ModelSummarizer.class);
    static final String PROMPT = """
            Summarize the conversation below in at most %d words, as plain sentences about the user.
            Keep every fact about the user, every decision and every preference; leave out small talk.

            Conversation:
            %s""";
    private static final int MAX_TURN_CHARS = 1500;

    private final MemoryModel model;

    public ModelSummarizer(MemoryModel model) {
        this.model = model;
    }

    @Override
    public String summarize(List<ChatTurn> turns, int maxTokens, TokenCounter counter) {
        StringBuilder conversation = new StringBuilder();
        for (ChatTurn t : turns) {
            String text = t.content().length() > MAX_TURN_CHARS ? t.content().substring(0, MAX_TURN_CHARS) + " ..." : t.content();
            conversation.append(t.role()).append(": ").append(text.replace('\n', ' ')).append('\n');
        }
        String answer;
        try {
            answer = model.complete(PROMPT.formatted(Math.max(10, maxTokens * 2 / 3), conversation), maxTokens);
        } catch (RuntimeException e) {
            LOG.debug("the model summarizer got no answer: {}", e.toString());
            return null;
        }
        if (answer == null) return null;
        String text = answer.strip();
        if (text.split("\\s+").length < 4) return null;
        String fitted = Summarizer.fit("Earlier in this conversation: " + text.replace('\n', ' '), maxTokens, counter);
        return fitted.split("\\s+").length < 6 ? null : fitted;
    }
}
