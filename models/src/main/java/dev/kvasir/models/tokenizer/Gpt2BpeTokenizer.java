package dev.kvasir.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * GGUF {@code gpt2} tokenizer: byte-level BPE by merge rank (Llama 3, SmolLM, GPT-2). Text is cut
 * into words by the pre-tokenizer regex, each word's UTF-8 bytes are spelled with GPT-2's
 * byte-to-character map, and the adjacent pair with the best (lowest) merge rank joins until no
 * pair has a rank.
 */
public final class Gpt2BpeTokenizer extends GgufVocabTokenizer {

    private final Map<String, Integer> ids = new HashMap<>();
    /** Rank by {@code "left right"}, exactly as GGUF stores merges. */
    private final Map<String, Integer> mergeRanks = new HashMap<>();
    private final PreTokenizer preTokenizer;

    public Gpt2BpeTokenizer(Vocabulary vocabulary) {
        super(vocabulary);
        String[] tokens = vocabulary.tokens();
        for (int id = 0; id < tokens.length; id++) {
            if (!vocabulary.type(id).isSpecial()) ids.put(tokens[id], id);
        }
        String[] merges = vocabulary.merges();
        for (int rank = 0; rank < merges.length; rank++) mergeRanks.putIfAbsent(merges[rank], rank);
        this.preTokenizer = PreTokenizer.forName(vocabulary.pre());
        requireEveryByte();
        computeTokenBytes();
    }

    /** Any text must be spellable: every byte has a token, or there is an unknown token to stand in. */
    private void requireEveryByte() {
        if (vocabulary.unkId() >= 0) return;
        for (int b = 0; b < 256; b++) {
            if (!ids.containsKey(ByteLevel.encode(new byte[] {(byte) b}))) {
                throw new IllegalArgumentException("byte-level vocabulary has no token for byte 0x" + Integer.toHexString(b)
                        + " and no unknown token, so some text could not be encoded");
            }
        }
    }

    @Override
    public boolean addsSpacePrefix() {
        return false;
    }

    @Override
    protected void encodeText(String text, boolean afterSpecial, IntArrayBuilder out) {
        for (String word : preTokenizer.split(text)) {
            String spelled = ByteLevel.encode(word.getBytes(StandardCharsets.UTF_8));
            Integer whole = preTokenizer.wholeWordFirst() ? ids.get(spelled) : null;
            if (whole != null) {
                out.add(whole);
                continue;
            }
            for (String symbol : merge(spelled)) addSymbol(symbol, out);
        }
    }

    /** The word's symbols after every merge that applies, best rank first, leftmost on ties. */
    private List<String> merge(String spelled) {
        List<String> symbols = new ArrayList<>(spelled.length());
        for (int i = 0; i < spelled.length(); i++) symbols.add(String.valueOf(spelled.charAt(i)));
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE, best = -1;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            symbols.set(best, symbols.get(best) + symbols.remove(best + 1));
        }
        return symbols;
    }

    private void addSymbol(String symbol, IntArrayBuilder out) {
        Integer id = ids.get(symbol);
        if (id != null) {
            out.add(id);
            return;
        }
        // A merge result missing from the vocabulary: fall back to its single byte characters.
        for (int i = 0; i < symbol.length(); i++) {
            Integer single = ids.get(String.valueOf(symbol.charAt(i)));
            // The constructor made sure one of the two exists.
            out.add(single != null ? single : vocabulary.unkId());
        }
    }

    @Override
    protected byte[] bytesOf(int id) {
        if (isSilent(id)) return new byte[0];
        String token = vocabulary.tokens()[id];
        // Added (USER_DEFINED) tokens are stored as plain text, not in the byte spelling.
        byte[] bytes = vocabulary.type(id) == TokenType.USER_DEFINED ? null : ByteLevel.decode(token);
        return bytes != null ? bytes : token.getBytes(StandardCharsets.UTF_8);
    }
}
