package dev.kvasir.server.api;

import com.fasterxml.jackson.core.JacksonException;
import dev.kvasir.models.tools.ParsedToolCalls;
import dev.kvasir.models.tools.ToolCall;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.models.tools.ToolCallParser;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One chat choice's text turned into OpenAI's message pieces (content, and tool calls with their
 * arguments in fragments) as the text arrives. A stream sends the pieces as deltas; a whole
 * response is put together from the same pieces, so the two always agree.
 *
 * <p>{@code CALLS} (tool_choice required or named): the grammar makes the text calls from its first
 * token, so call objects are read as they come: a call's id and name go out once the name is
 * complete, then its arguments in fragments, with whitespace between JSON tokens left out; what
 * lies around the calls (Hermes tags, separators, a JSON array's brackets) is not content.
 *
 * <p>{@code PARSE} (tool_choice auto): text goes out as content until it may be a call (after
 * leading whitespace, a {@code {} or {@code <|python_tag|>}; for Hermes a {@code <tool_call>} tag,
 * anywhere); from there it is held to the end and read by {@link ToolCallParser}: the calls it
 * finds, or the held text as content when it finds none. Whitespace before a call is not content.
 */
final class ToolCallStream {

    /** A part of the message, in order. */
    sealed interface Piece {}

    record Content(String text) implements Piece {}

    /** A call begins: OpenAI's first delta of {@code tool_calls[index]}. */
    record CallStart(int index, String id, String name) implements Piece {}

    /** More of call {@code index}'s arguments (JSON text; the fragments of a call concatenate to it). */
    record Arguments(int index, String fragment) implements Piece {}

    private static final String PYTHON_TAG = "<|python_tag|>";
    private static final String HERMES_OPEN = "<tool_call>";

    private final OutputPlan.ToolOutput mode;
    private final ToolCallFormat format;
    private List<Piece> out = new ArrayList<>();
    private int calls;

    // PARSE: text not yet given out, and whether the rest is held for the parser.
    private final StringBuilder pending = new StringBuilder();
    private boolean holding;
    private boolean contentSent;

    // CALLS: a small JSON scanner over the call objects.
    /** Nesting inside the current call object; 0 between calls. */
    private int depth;
    private boolean inString;
    private boolean escaped;
    /** At the call object's own level: reading a key (else its value). */
    private boolean atKey;
    /** The call object's key whose value is being read. */
    private String key;
    /** The key or name string being read at the call object's level. */
    private final StringBuilder literal = new StringBuilder();
    /** The current call has been announced; its arguments may go out. */
    private boolean started;
    /** Arguments read before the name (not in the grammars' order, but kept rather than lost). */
    private final StringBuilder earlyArguments = new StringBuilder();
    private final StringBuilder fragment = new StringBuilder();

    ToolCallStream(OutputPlan.ToolOutput mode, ToolCallFormat format) {
        if (mode == OutputPlan.ToolOutput.NONE) throw new IllegalArgumentException("plain text needs no tool-call stream");
        this.mode = mode;
        this.format = format;
    }

    /** Whether a call has been given out (the choice then finishes with {@code tool_calls}). */
    boolean hasCalls() {
        return calls > 0;
    }

    /** The pieces {@code text} completes (often none while a call's name or a possible call is held). */
    List<Piece> push(String text) {
        if (mode == OutputPlan.ToolOutput.CALLS) {
            for (int i = 0; i < text.length(); i++) scan(text.charAt(i));
            flushFragment();
        } else if (holding) {
            pending.append(text);
        } else {
            pending.append(text);
            release();
        }
        return take();
    }

    /** The last pieces, once the choice has ended. */
    List<Piece> finish() {
        if (mode == OutputPlan.ToolOutput.PARSE) {
            if (holding) {
                ParsedToolCalls parsed = ToolCallParser.parse(pending.toString(), format);
                if (parsed.hasCalls()) {
                    if (parsed.content() != null) content(parsed.content());
                    for (ToolCall call : parsed.calls()) {
                        int index = calls++;
                        out.add(new CallStart(index, newCallId(), call.name()));
                        out.add(new Arguments(index, call.arguments()));
                    }
                } else {
                    content(pending.toString());
                }
            } else if (!pending.isEmpty()) {
                content(pending.toString());
            }
            pending.setLength(0);
        }
        return take();
    }

    private List<Piece> take() {
        if (out.isEmpty()) return List.of();
        List<Piece> pieces = out;
        out = new ArrayList<>();
        return pieces;
    }

    private void content(String text) {
        if (text.isEmpty()) return;
        contentSent = true;
        out.add(new Content(text));
    }

    /** PARSE: gives out what cannot be the start of a call; holds the rest, or everything from a call's start on. */
    private void release() {
        String text = pending.toString();
        if (format == ToolCallFormat.HERMES) {
            int tag = text.indexOf(HERMES_OPEN);
            String before = tag >= 0 ? text.substring(0, tag) : text.substring(0, text.length() - prefixOfTag(text, HERMES_OPEN));
            if (tag >= 0) holding = true;
            if (contentSent || !before.isBlank()) {
                content(before);
                pending.delete(0, before.length());
            } else if (holding) {
                pending.delete(0, before.length()); // whitespace before the first call is not content
            }
            return;
        }
        String rest = text.stripLeading();
        if (contentSent) {
            content(text);
            pending.setLength(0);
        } else if (rest.startsWith("{") || rest.startsWith(PYTHON_TAG) || format == ToolCallFormat.JSON && rest.startsWith("[")) {
            holding = true;
        } else if (!rest.isEmpty() && !(format == ToolCallFormat.LLAMA3_JSON && PYTHON_TAG.startsWith(rest))) {
            content(text);
            pending.setLength(0);
        }
    }

    /** The length of the longest end of {@code text} that {@code tag} starts with. */
    private static int prefixOfTag(String text, String tag) {
        for (int k = Math.min(tag.length() - 1, text.length()); k > 0; k--) {
            if (text.regionMatches(text.length() - k, tag, 0, k)) return k;
        }
        return 0;
    }

    /** CALLS: one character of the text. */
    private void scan(char c) {
        if (depth == 0) {
            // Between calls: tags, separators and brackets; a brace opens the next call object.
            if (c == '{') {
                depth = 1;
                atKey = true;
                key = null;
                started = false;
                earlyArguments.setLength(0);
            }
            return;
        }
        boolean arguments = depth > 1 || !atKey && isArgumentsKey(key);
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
            if (depth == 1 && !arguments) {
                if (inString) literal.append(c);
                else closeLiteral();
                return;
            }
            argument(c);
            return;
        }
        if (depth == 1 && !arguments) {
            switch (c) {
                case '"' -> {
                    inString = true;
                    literal.setLength(0);
                }
                case ':' -> atKey = false;
                case ',' -> atKey = true;
                case '}' -> endCall();
                default -> { }
            }
            return;
        }
        // Inside the arguments value.
        if (depth == 1 && (c == ',' || c == '}')) {
            // The value ended at the call object's level.
            atKey = true;
            if (c == '}') endCall();
            return;
        }
        if (c == '"') inString = true;
        else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        else if (Character.isWhitespace(c)) return;
        argument(c);
    }

    private void endCall() {
        depth = 0;
        flushFragment();
    }

    private static boolean isArgumentsKey(String key) {
        return "arguments".equals(key) || "parameters".equals(key);
    }

    /** A string at the call object's level has closed: a key, or the function's name. */
    private void closeLiteral() {
        String value;
        try {
            value = Json.MAPPER.readValue("\"" + literal + "\"", String.class);
        } catch (JacksonException e) {
            value = literal.toString();
        }
        if (atKey) {
            key = value;
        } else if ("name".equals(key) && !started) {
            started = true;
            flushFragment();
            out.add(new CallStart(calls++, newCallId(), value));
            if (!earlyArguments.isEmpty()) {
                out.add(new Arguments(calls - 1, earlyArguments.toString()));
                earlyArguments.setLength(0);
            }
        }
    }

    private void argument(char c) {
        if (started) fragment.append(c);
        else earlyArguments.append(c);
    }

    private void flushFragment() {
        if (fragment.isEmpty()) return;
        out.add(new Arguments(calls - 1, fragment.toString()));
        fragment.setLength(0);
    }

    private static String newCallId() {
        return "call_" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }
}
