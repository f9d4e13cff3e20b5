package dev.kvasir.models.tokenizer;

import java.util.List;

/**
 * What the two GGUF tokenizers share: the vocabulary, special tokens and BOS handling. Subclasses
 * only say how ordinary text becomes ids and what bytes a token stands for.
 */
abstract sealed class GgufVocabTokenizer implements Tokenizer permits LlamaSpmTokenizer, Gpt2BpeTokenizer {

    protected final Vocabulary vocabulary;
    private final SpecialTokenMatcher specials;
    /** Bytes per id, computed once: decoding is on the streaming hot path. */
    private final byte[][] bytesById;

    GgufVocabTokenizer(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
        this.specials = SpecialTokenMatcher.of(vocabulary);
        this.bytesById = new byte[vocabulary.size()][];
    }

    /** Subclass constructors call this once their own tables exist. */
    protected final void computeTokenBytes() {
        for (int id = 0; id < bytesById.length; id++) bytesById[id] = bytesOf(id);
    }

    /** Appends the ids of ordinary text; {@code afterSpecial} is true at the start and after a special token. */
    protected abstract void encodeText(String text, boolean afterSpecial, IntArrayBuilder out);

    /** The bytes of one token, from its vocabulary string and type. */
    protected abstract byte[] bytesOf(int id);

    @Override
    public int[] encode(List<TextSpan> spans, boolean addBos) {
        IntArrayBuilder out = new IntArrayBuilder();
        if (addBos && vocabulary.addBos()) out.add(vocabulary.bosId());
        boolean afterSpecial = true;
        for (SpecialTokenMatcher.Fragment fragment : specials.split(spans)) {
            if (fragment.isSpecial()) {
                out.add(fragment.id());
                afterSpecial = true;
            } else {
                encodeText(fragment.text(), afterSpecial, out);
                afterSpecial = false;
            }
        }
        return out.toArray();
    }

    @Override
    public byte[] tokenBytes(int id) {
        return bytesById[checkId(id)].clone();
    }

    @Override
    public String tokenString(int id) {
        return vocabulary.tokens()[checkId(id)];
    }

    @Override
    public boolean isSpecial(int id) {
        return vocabulary.type(checkId(id)).isSpecial();
    }

    @Override
    public int vocabSize() {
        return vocabulary.size();
    }

    @Override
    public int bosId() {
        return vocabulary.bosId();
    }

    @Override
    public int[] stopTokenIds() {
        return vocabulary.stopIds().clone();
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    protected final int checkId(int id) {
        if (id < 0 || id >= vocabulary.size()) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (vocabulary.size() - 1) + ")");
        }
        return id;
    }

    /** Token types that stand for no text at all. */
    protected final boolean isSilent(int id) {
        TokenType type = vocabulary.type(id);
        return type == TokenType.CONTROL || type == TokenType.UNKNOWN || type == TokenType.UNUSED;
    }
}
