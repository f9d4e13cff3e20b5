package dev.kvasir.memory.search;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * The analyzer of the BM25 side. ENGLISH (Lucene's EnglishAnalyzer: standard tokens, possessives,
 * lower case, English stop words, Porter stemming) is the default: on the evaluation set of
 * {@code scripts/bench memory-search} it finds more evidence than STANDARD (standard tokens, lower
 * case, the same stop words, no stemming); the bench prints both.
 */
public enum LexicalAnalyzer {
    ENGLISH, STANDARD;

    public Analyzer create() {
        return switch (this) {
            case ENGLISH -> new EnglishAnalyzer();
            case STANDARD -> new StandardAnalyzer(EnglishAnalyzer.ENGLISH_STOP_WORDS_SET);
        };
    }

    /** The terms a text becomes in the index (for building a query from free text). */
    static List<String> terms(Analyzer analyzer, String field, String text) {
        List<String> out = new ArrayList<>();
        try (TokenStream ts = analyzer.tokenStream(field, text)) {
            CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) out.add(term.toString());
            ts.end();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
