package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * The text tokens' bytes as a trie laid out in depth-first order: node 0 is the empty prefix, a
 * node's first child (if any) follows it, and {@code subtreeEnd[n]} is the first node after its
 * subtree, which is also its next sibling. The tokens of a subtree are therefore one run of
 * {@link #tokens}, so a whole subtree can be accepted or skipped at once.
 */
final class TokenTrie {

    /** The byte that leads into each node (unused for the root). */
    final int[] nodeByte;
    final int[] subtreeEnd;
    /** Tokens ending at node n: {@code tokens[tokenStart[n] .. tokenStart[n + 1])}. */
    final int[] tokenStart;
    final int[] tokens;

    private TokenTrie(int[] nodeByte, int[] subtreeEnd, int[] tokenStart, int[] tokens) {
        this.nodeByte = nodeByte;
        this.subtreeEnd = subtreeEnd;
        this.tokenStart = tokenStart;
        this.tokens = tokens;
    }

    int nodeCount() {
        return nodeByte.length;
    }

    int tokenCount() {
        return tokens.length;
    }

    /** The child of {@code node} for byte {@code b}, or -1. */
    int child(int node, int b) {
        for (int c = node + 1; c < subtreeEnd[node]; c = subtreeEnd[c]) {
            if (nodeByte[c] == b) return c;
        }
        return -1;
    }

    static TokenTrie build(byte[] bytes, int[] offset, boolean[] include) {
        int count = 0;
        for (boolean b : include) if (b) count++;
        Integer[] order = new Integer[count];
        for (int t = 0, i = 0; t < include.length; t++) if (include[t]) order[i++] = t;
        Arrays.sort(order, (x, y) -> Arrays.compareUnsigned(bytes, offset[x], offset[x + 1], bytes, offset[y], offset[y + 1]));
        int[] sorted = new int[count];
        for (int i = 0; i < count; i++) sorted[i] = order[i];
        Builder b = new Builder(bytes, offset, sorted);
        b.node(0, count, 0, -1);
        return b.finish();
    }

    private static final class Builder {
        private final byte[] bytes;
        private final int[] offset;
        private final int[] sorted;
        private int[] nodeByte = new int[1024], subtreeEnd = new int[1024], tokenStart = new int[1025];
        private int nodes;
        private final int[] tokens;
        private int tokensUsed;

        Builder(byte[] bytes, int[] offset, int[] sorted) {
            this.bytes = bytes;
            this.offset = offset;
            this.sorted = sorted;
            this.tokens = new int[sorted.length];
        }

        /** The node for sorted tokens [lo, hi), which share their first {@code depth} bytes. */
        void node(int lo, int hi, int depth, int leadByte) {
            int n = nodes++;
            if (n >= nodeByte.length) {
                nodeByte = Arrays.copyOf(nodeByte, n * 2);
                subtreeEnd = Arrays.copyOf(subtreeEnd, n * 2);
                tokenStart = Arrays.copyOf(tokenStart, n * 2 + 1);
            }
            nodeByte[n] = leadByte;
            tokenStart[n] = tokensUsed;
            int i = lo;
            // Tokens that end here sort first: they are prefixes of the rest.
            while (i < hi && length(sorted[i]) == depth) tokens[tokensUsed++] = sorted[i++];
            // The run of n ends where the next node's (its first child's) begins.
            while (i < hi) {
                int b = byteAt(sorted[i], depth);
                int j = i;
                while (j < hi && byteAt(sorted[j], depth) == b) j++;
                node(i, j, depth + 1, b);
                i = j;
            }
            subtreeEnd[n] = nodes;
        }

        private int length(int t) {
            return offset[t + 1] - offset[t];
        }

        private int byteAt(int t, int i) {
            return bytes[offset[t] + i] & 0xFF;
        }

        TokenTrie finish() {
            tokenStart[nodes] = tokensUsed;
            return new TokenTrie(Arrays.copyOf(nodeByte, nodes), Arrays.copyOf(subtreeEnd, nodes), Arrays.copyOf(tokenStart, nodes + 1),
                    tokens);
        }
    }
}
