package dev.kvasir.models.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Cuts text into special tokens and the ordinary text between them. Special strings are looked
 * for only inside spans that allow it; ordinary text of neighbouring spans is joined, so span
 * boundaries never change how the text around them is tokenized.
 */
final class SpecialTokenMatcher {

    /** Either a special token ({@code id >= 0}) or ordinary text ({@code id == -1}). */
    record Fragment(int id, String text) {
        boolean isSpecial() {
            return id >= 0;
        }
    }

    private record Candidate(String text, int id) {}

    /** Candidates by first character, longest first, so the longest special string wins. */
    private final Map<Character, List<Candidate>> byFirstChar = new HashMap<>();

    /** {@code specials}: special-token text to id; empty strings are ignored. */
    SpecialTokenMatcher(Map<String, Integer> specials) {
        specials.forEach((text, id) -> {
            if (!text.isEmpty()) byFirstChar.computeIfAbsent(text.charAt(0), c -> new ArrayList<>()).add(new Candidate(text, id));
        });
        byFirstChar.values().forEach(list -> list.sort(Comparator.comparingInt((Candidate c) -> c.text.length()).reversed()));
    }

    /** The special strings of a vocabulary: CONTROL and USER_DEFINED tokens. */
    static SpecialTokenMatcher of(Vocabulary vocabulary) {
        Map<String, Integer> specials = new HashMap<>();
        for (int id = 0; id < vocabulary.size(); id++) {
            if (vocabulary.type(id).isSpecial()) specials.putIfAbsent(vocabulary.tokens()[id], id);
        }
        return new SpecialTokenMatcher(specials);
    }

    List<Fragment> split(List<TextSpan> spans) {
        List<Fragment> out = new ArrayList<>();
        StringBuilder pending = new StringBuilder();
        for (TextSpan span : spans) {
            String text = Utf8.wellFormed(span.text());
            if (!span.parseSpecial() || byFirstChar.isEmpty()) {
                pending.append(text);
                continue;
            }
            int i = 0;
            while (i < text.length()) {
                Candidate match = matchAt(text, i);
                if (match == null) {
                    pending.append(text.charAt(i++));
                    continue;
                }
                if (!pending.isEmpty()) out.add(new Fragment(-1, pending.toString()));
                pending.setLength(0);
                out.add(new Fragment(match.id, match.text));
                i += match.text.length();
            }
        }
        if (!pending.isEmpty()) out.add(new Fragment(-1, pending.toString()));
        return out;
    }

    /** Occurrences of special strings in {@code text}: start offsets, for callers that must break them up. */
    List<int[]> occurrences(String text) {
        List<int[]> found = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            Candidate match = matchAt(text, i);
            if (match != null) found.add(new int[] {i, i + match.text.length()});
        }
        return found;
    }

    private Candidate matchAt(String text, int i) {
        List<Candidate> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (Candidate c : candidates) {
            if (text.startsWith(c.text, i)) return c;
        }
        return null;
    }
}
