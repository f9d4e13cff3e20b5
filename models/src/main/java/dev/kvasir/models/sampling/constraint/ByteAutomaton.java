package dev.kvasir.models.sampling.constraint;

/**
 * A grammar compiled to bytes: one deterministic automaton per rule that needs its own (the root
 * and the rules that recursion cannot inline), all states numbered together. A state has byte
 * transitions (by byte class), calls (enter rule R, come back to a return state) and may accept
 * (its rule can end there). The runtime configuration is a stack of states: the top in the rule
 * being matched, each lower one the return state of the caller. Immutable once built.
 */
final class ByteAutomaton {

    /** Bytes that every rule treats alike share a class, so the table has classes, not 256 columns. */
    final int[] classOf;
    final int numClasses;
    final int numStates;
    /** {@code next[state * numClasses + class]}: the state after the byte, or -1. */
    final int[] next;
    final boolean[] accepting;
    /** Calls of state s: indexes {@code callOffset[s] .. callOffset[s + 1]} of callRule and callReturn. */
    final int[] callOffset;
    final int[] callRule;
    final int[] callReturn;
    final String[] ruleNames;
    final int[] ruleStart;
    final int[] ruleOf;
    /** Bytes a rule can start with (non-empty matches), 4 words per rule. */
    final long[] firstBytes;
    /** Every return state of every call of each rule: where a finished rule may continue. */
    final int[][] returnStates;
    final int rootRule;
    /** Whether a state can read any byte at all (a transition or a call). */
    final boolean[] hasExit;
    /** The fewest bytes that take a state to the end of its rule (a lower bound through calls). */
    final int[] minFinish;

    ByteAutomaton(int[] classOf, int numClasses, int numStates, int[] next, boolean[] accepting, int[] callOffset,
                  int[] callRule, int[] callReturn, String[] ruleNames, int[] ruleStart, int[] ruleOf, long[] firstBytes,
                  int[][] returnStates, int rootRule) {
        this.classOf = classOf;
        this.numClasses = numClasses;
        this.numStates = numStates;
        this.next = next;
        this.accepting = accepting;
        this.callOffset = callOffset;
        this.callRule = callRule;
        this.callReturn = callReturn;
        this.ruleNames = ruleNames;
        this.ruleStart = ruleStart;
        this.ruleOf = ruleOf;
        this.firstBytes = firstBytes;
        this.returnStates = returnStates;
        this.rootRule = rootRule;
        this.hasExit = new boolean[numStates];
        for (int s = 0; s < numStates; s++) {
            boolean exit = callOffset[s] != callOffset[s + 1];
            for (int c = 0; c < numClasses && !exit; c++) exit = next[s * numClasses + c] >= 0;
            hasExit[s] = exit;
        }
        this.minFinish = minFinish();
    }

    /** Shortest distances to acceptance, relaxed from accepting states backwards (a queue, each improvement once). */
    private int[] minFinish() {
        int[] d = new int[numStates];
        java.util.Arrays.fill(d, Integer.MAX_VALUE / 4);
        int[] predStart = new int[numStates + 1];
        for (int s = 0; s < numStates; s++) {
            for (int c = 0; c < numClasses; c++) if (next[s * numClasses + c] >= 0) predStart[next[s * numClasses + c] + 1]++;
        }
        for (int i = 0; i < numStates; i++) predStart[i + 1] += predStart[i];
        int[] pred = new int[predStart[numStates]];
        int[] fill = java.util.Arrays.copyOf(predStart, numStates);
        for (int s = 0; s < numStates; s++) {
            for (int c = 0; c < numClasses; c++) if (next[s * numClasses + c] >= 0) pred[fill[next[s * numClasses + c]]++] = s;
        }
        java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>();
        boolean[] queued = new boolean[numStates];
        for (int s = 0; s < numStates; s++) {
            if (accepting[s]) {
                d[s] = 0;
                queue.add(s);
                queued[s] = true;
            }
        }
        boolean hasCalls = callRule.length > 0;
        while (true) {
            while (!queue.isEmpty()) {
                int t = queue.poll();
                queued[t] = false;
                for (int k = predStart[t]; k < predStart[t + 1]; k++) {
                    int s = pred[k];
                    if (d[t] + 1 < d[s]) {
                        d[s] = d[t] + 1;
                        if (!queued[s]) {
                            queued[s] = true;
                            queue.add(s);
                        }
                    }
                }
            }
            if (!hasCalls) return d;
            // Calls: a pass over the call sites; repeat until none improves.
            boolean improved = false;
            for (int s = 0; s < numStates; s++) {
                for (int k = callOffset[s]; k < callOffset[s + 1]; k++) {
                    int via = d[ruleStart[callRule[k]]] + d[callReturn[k]];
                    if (via < d[s]) {
                        d[s] = via;
                        improved = true;
                        if (!queued[s]) {
                            queued[s] = true;
                            queue.add(s);
                        }
                    }
                }
            }
            if (!improved) return d;
        }
    }

    int startState() {
        return ruleStart[rootRule];
    }

    int step(int state, int b) {
        return next[state * numClasses + classOf[b]];
    }

    boolean canStart(int rule, int b) {
        return (firstBytes[rule * 4 + (b >>> 6)] & (1L << b)) != 0;
    }

    boolean hasCalls(int state) {
        return callOffset[state] != callOffset[state + 1];
    }
}
