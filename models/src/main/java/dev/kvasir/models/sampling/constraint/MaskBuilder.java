package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * Computes a state's {@link StateMask} by walking the vocabulary's byte trie against the automaton
 * from a stack that holds only that state (and an unknown context below it): a subtree is pruned
 * as soon as no stack survives its prefix, so a state that allows few tokens costs little. Where
 * the state's rule finishes inside a token, the walk continues from each of the rule's possible
 * return states; tokens that survive only so are "uncertain". One builder per thread.
 */
final class MaskBuilder {

    private final ByteAutomaton a;
    private final TokenVocabulary vocab;
    private final TokenTrie trie;
    private final Stepper stepper;
    private final StackSet[] levels;
    private int[] accepted = new int[256];
    private int acceptedCount;
    private int[] uncertain = new int[64];
    private int uncertainCount;

    MaskBuilder(ByteAutomaton automaton, TokenVocabulary vocab) {
        this.a = automaton;
        this.vocab = vocab;
        this.trie = vocab.trie();
        this.stepper = new Stepper(automaton);
        this.levels = new StackSet[vocab.maxTokenBytes() + 2];
        for (int i = 0; i < levels.length; i++) levels[i] = new StackSet();
    }

    /** The mask of {@code state} at any position after the first. */
    StateMask build(int state) {
        begin(state);
        walk(0, 0, false);
        return finish();
    }

    /**
     * The mask of the start state at the first position, where a token's leading space is dropped
     * (SentencePiece): tokens under the trie's space node are walked as if the space were not there,
     * and the lone space token stands for no text at all.
     */
    StateMask buildFirst(int state) {
        begin(state);
        int space = trie.child(0, ' ');
        walkChildren(0, 0, false, space);
        if (space >= 0) {
            for (int i = trie.tokenStart[space]; i < trie.tokenStart[space + 1]; i++) addAccepted(trie.tokens[i]);
            walk(space, 0, false);
        }
        return finish();
    }

    private void begin(int state) {
        acceptedCount = 0;
        uncertainCount = 0;
        StackSet base = levels[0];
        base.clear();
        base.add(new int[] {-1, state}, 2);
    }

    private void walk(int node, int d, boolean unsure) {
        walkChildren(node, d, unsure, -1);
    }

    private void walkChildren(int node, int d, boolean unsure, int skip) {
        StackSet cur = levels[d];
        StackSet nxt = levels[d + 1];
        int[] end = trie.subtreeEnd;
        // One stack of just the base state, in a state that neither calls nor may end: plain table steps.
        int simple = cur.count == 1 && cur.data[0] == 2 && cur.data[1] == -1 && !a.accepting[cur.data[2]]
                && !a.hasCalls(cur.data[2]) ? cur.data[2] : -1;
        for (int c = node + 1; c < end[node]; c = end[c]) {
            if (c == skip) continue;
            int b = trie.nodeByte[c];
            if (simple >= 0) {
                int t = a.step(simple, b);
                nxt.clear();
                nxt.escaped = cur.escaped;
                if (t >= 0) {
                    nxt.data[0] = 2;
                    nxt.data[1] = -1;
                    nxt.data[2] = t;
                    nxt.used = 3;
                    nxt.count = 1;
                }
            } else {
                stepper.advance(cur, b, nxt);
            }
            boolean u = unsure || nxt.escaped;
            if (nxt.count == 0) {
                if (u) addUncertainRange(trie.tokenStart[c], trie.tokenStart[end[c]]);
                continue;
            }
            boolean sure = hasBaseLevel(nxt);
            for (int i = trie.tokenStart[c]; i < trie.tokenStart[c + 1]; i++) {
                if (sure) addAccepted(trie.tokens[i]);
                else addUncertain(trie.tokens[i]);
            }
            if (c + 1 < end[c]) walk(c, d + 1, u);
        }
    }

    /** Whether a stack survived without leaving the base state's rule (its bottom is the level-0 sentinel). */
    private static boolean hasBaseLevel(StackSet s) {
        int[] d = s.data;
        for (int pos = 0; pos < s.used; pos += d[pos] + 1) {
            if (d[pos + 1] == -1) return true;
        }
        return false;
    }

    private void addAccepted(int t) {
        if (acceptedCount == accepted.length) accepted = Arrays.copyOf(accepted, acceptedCount * 2);
        accepted[acceptedCount++] = t;
    }

    private void addUncertain(int t) {
        if (uncertainCount == uncertain.length) uncertain = Arrays.copyOf(uncertain, uncertainCount * 2);
        uncertain[uncertainCount++] = t;
    }

    private void addUncertainRange(int from, int to) {
        for (int i = from; i < to; i++) addUncertain(trie.tokens[i]);
    }

    private StateMask finish() {
        int[] unc = Arrays.copyOf(uncertain, uncertainCount);
        Arrays.sort(unc);
        int words = (vocab.size() + 63) >>> 6;
        // A bitset costs words * 8 bytes, a list 4 bytes per token: keep the smaller.
        if (acceptedCount * 4L > words * 8L) {
            long[] dense = new long[words];
            for (int i = 0; i < acceptedCount; i++) dense[accepted[i] >>> 6] |= 1L << accepted[i];
            return new StateMask(dense, null, unc);
        }
        int[] sparse = Arrays.copyOf(accepted, acceptedCount);
        Arrays.sort(sparse);
        return new StateMask(null, sparse, unc);
    }
}
