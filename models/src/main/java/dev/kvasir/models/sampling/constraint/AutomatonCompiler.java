package dev.kvasir.models.sampling.constraint;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Compiles {@link GrammarRules} into a {@link ByteAutomaton}. Every rule that recursion does not
 * force apart is inlined into its users (so most grammars become one deterministic automaton with
 * no stack at all); on each recursion cycle one rule, a preferred one when the front-end named it,
 * keeps its own automaton and is entered by a call. Each such rule is built as a Thompson NFA over
 * bytes (UTF-8 for character sets) and determinized by subset construction, with calls as symbols
 * and calls of rules that can match nothing also skipped. Left recursion is refused, as llama.cpp
 * refuses it. Limits on states refuse grammars too large to serve rather than exhaust the heap.
 */
final class AutomatonCompiler {

    static final int MAX_NFA_STATES = 2_000_000;
    static final int MAX_DFA_STATES = 250_000;

    private static final int EPS = 0, BYTES = 1, CALL = 2;

    private final GrammarRules grammar;
    private final Map<String, Integer> automatonRules = new LinkedHashMap<>();

    private int nfaStates;
    private int[] edgeFrom = new int[1024], edgeKind = new int[1024], edgeA = new int[1024], edgeB = new int[1024],
            edgeTo = new int[1024];
    private int edges;

    // CSR of the NFA's edges by source state, built once lowering is done.
    private int[] outOffset, outEdge;

    private AutomatonCompiler(GrammarRules grammar) {
        this.grammar = grammar;
    }

    static ByteAutomaton compile(GrammarRules grammar) {
        return new AutomatonCompiler(grammar).build();
    }

    private ByteAutomaton build() {
        chooseAutomatonRules();
        int n = automatonRules.size();
        String[] names = automatonRules.keySet().toArray(String[]::new);
        int[] nfaStart = new int[n], nfaEnd = new int[n];
        for (int r = 0; r < n; r++) {
            int[] frag = lower(grammar.rules().get(names[r]), new ArrayDeque<>(List.of(names[r])));
            nfaStart[r] = frag[0];
            nfaEnd[r] = frag[1];
        }
        indexEdges();
        boolean[] nullable = nullableRules(nfaStart, nfaEnd);
        int[] classOf = new int[256];
        int numClasses = byteClasses(classOf);

        Determinizer d = new Determinizer(nullable, classOf, numClasses);
        int[] ruleStart = new int[n];
        for (int r = 0; r < n; r++) ruleStart[r] = d.determinize(r, nfaStart[r], nfaEnd[r]);
        return d.finish(names, ruleStart, automatonRules.get(grammar.root()));
    }

    // ---- which rules keep their own automaton ----

    private void chooseAutomatonRules() {
        automatonRules.put(grammar.root(), 0);
        Map<String, Set<String>> refs = new HashMap<>();
        for (Map.Entry<String, Expr> e : grammar.rules().entrySet()) {
            Set<String> out = new LinkedHashSet<>();
            collectRefs(e.getValue(), out);
            for (String target : out) {
                if (!grammar.rules().containsKey(target)) {
                    throw new ConstraintException("rule '" + e.getKey() + "' refers to undefined rule '" + target + "'");
                }
            }
            refs.put(e.getKey(), out);
        }
        while (true) {
            List<String> cycle = findInlineCycle(refs);
            if (cycle == null) return;
            String pick = cycle.getFirst();
            for (String r : cycle) {
                if (grammar.callPreferred().contains(r)) {
                    pick = r;
                    break;
                }
            }
            automatonRules.put(pick, automatonRules.size());
        }
    }

    private static void collectRefs(Expr e, Set<String> out) {
        switch (e) {
            case Expr.Ref r -> out.add(r.rule());
            case Expr.Seq s -> s.items().forEach(i -> collectRefs(i, out));
            case Expr.Alt a -> a.options().forEach(i -> collectRefs(i, out));
            case Expr.Repeat r -> collectRefs(r.item(), out);
            case Expr.Members m -> {
                m.items().forEach(i -> collectRefs(i, out));
                collectRefs(m.separator(), out);
            }
            case Expr.Literal l -> { }
            case Expr.CharSet c -> { }
        }
    }

    /** A cycle of rules that would all be inlined (none has its own automaton), or null. */
    private List<String> findInlineCycle(Map<String, Set<String>> refs) {
        Map<String, Integer> color = new HashMap<>(); // 1 on the path, 2 done
        List<String> path = new ArrayList<>();
        for (String start : automatonRules.keySet()) {
            for (String target : refs.get(start)) {
                List<String> cycle = dfs(target, refs, color, path);
                if (cycle != null) return cycle;
            }
        }
        return null;
    }

    private List<String> dfs(String rule, Map<String, Set<String>> refs, Map<String, Integer> color, List<String> path) {
        if (automatonRules.containsKey(rule)) return null;
        Integer c = color.get(rule);
        if (c != null && c == 2) return null;
        if (c != null) return new ArrayList<>(path.subList(path.indexOf(rule), path.size()));
        color.put(rule, 1);
        path.add(rule);
        for (String target : refs.get(rule)) {
            List<String> cycle = dfs(target, refs, color, path);
            if (cycle != null) return cycle;
        }
        path.removeLast();
        color.put(rule, 2);
        return null;
    }

    // ---- Thompson construction ----

    private int newState() {
        if (nfaStates >= MAX_NFA_STATES) {
            throw new ConstraintException("grammar too large: more than " + MAX_NFA_STATES
                    + " automaton states after expanding rules and bounded repetitions");
        }
        return nfaStates++;
    }

    private void edge(int from, int kind, int a, int b, int to) {
        if (edges == edgeFrom.length) {
            int cap = edges * 2;
            edgeFrom = Arrays.copyOf(edgeFrom, cap);
            edgeKind = Arrays.copyOf(edgeKind, cap);
            edgeA = Arrays.copyOf(edgeA, cap);
            edgeB = Arrays.copyOf(edgeB, cap);
            edgeTo = Arrays.copyOf(edgeTo, cap);
        }
        edgeFrom[edges] = from;
        edgeKind[edges] = kind;
        edgeA[edges] = a;
        edgeB[edges] = b;
        edgeTo[edges] = to;
        edges++;
    }

    /** Lowers {@code e} to a fragment {start, end}; {@code inlining} holds the rules being expanded. */
    private int[] lower(Expr e, ArrayDeque<String> inlining) {
        int start = newState();
        int end = lowerInto(e, start, inlining);
        return new int[] {start, end};
    }

    /** Lowers {@code e} starting at {@code from}; returns its end state. */
    private int lowerInto(Expr e, int from, ArrayDeque<String> inlining) {
        switch (e) {
            case Expr.Literal l -> {
                int s = from;
                for (byte b : l.bytes()) {
                    int t = newState();
                    edge(s, BYTES, b & 0xFF, b & 0xFF, t);
                    s = t;
                }
                return s;
            }
            case Expr.CharSet c -> {
                int end = newState();
                int[] r = c.ranges();
                for (int i = 0; i < r.length; i += 2) {
                    for (int[][] seq : Utf8Ranges.of(r[i], r[i + 1])) {
                        int s = from;
                        for (int k = 0; k < seq.length; k++) {
                            int t = k == seq.length - 1 ? end : newState();
                            edge(s, BYTES, seq[k][0], seq[k][1], t);
                            s = t;
                        }
                    }
                }
                return end;
            }
            case Expr.Seq s -> {
                int at = from;
                for (Expr item : s.items()) at = lowerInto(item, at, inlining);
                return at;
            }
            case Expr.Alt a -> {
                int end = newState();
                for (Expr option : a.options()) {
                    int start = newState();
                    edge(from, EPS, 0, 0, start);
                    edge(lowerInto(option, start, inlining), EPS, 0, 0, end);
                }
                return end;
            }
            case Expr.Repeat r -> {
                int at = from;
                for (int i = 0; i < r.min(); i++) at = lowerInto(r.item(), at, inlining);
                if (r.max() == -1) {
                    // at -> item -> back to at; the loop state is also the exit.
                    int loop = newState();
                    edge(at, EPS, 0, 0, loop);
                    int body = newState();
                    edge(loop, EPS, 0, 0, body);
                    edge(lowerInto(r.item(), body, inlining), EPS, 0, 0, loop);
                    return loop;
                }
                int end = newState();
                edge(at, EPS, 0, 0, end);
                for (int i = r.min(); i < r.max(); i++) {
                    at = lowerInto(r.item(), at, inlining);
                    edge(at, EPS, 0, 0, end);
                }
                return end;
            }
            case Expr.Ref ref -> {
                Integer rule = automatonRules.get(ref.rule());
                if (rule != null) {
                    int end = newState();
                    edge(from, CALL, rule, 0, end);
                    return end;
                }
                Expr body = grammar.rules().get(ref.rule());
                if (body == null) throw new ConstraintException("undefined rule '" + ref.rule() + "'");
                if (inlining.contains(ref.rule())) throw new IllegalStateException("unbroken recursion at " + ref.rule());
                inlining.push(ref.rule());
                int end = lowerInto(body, from, inlining);
                inlining.pop();
                return end;
            }
            case Expr.Members m -> {
                // States (i, nothing emitted yet) and (i, something emitted): the separator goes only
                // before an item that follows an emitted one.
                int n = m.items().size();
                int[] fresh = new int[n + 1], after = new int[n + 1];
                fresh[0] = from;
                for (int i = 1; i <= n; i++) fresh[i] = newState();
                for (int i = 0; i <= n; i++) after[i] = newState();
                for (int i = 0; i < n; i++) {
                    int join = newState();
                    edge(fresh[i], EPS, 0, 0, join);
                    edge(lowerInto(m.separator(), after[i], inlining), EPS, 0, 0, join);
                    edge(lowerInto(m.items().get(i), join, inlining), EPS, 0, 0, after[i + 1]);
                    if (!m.required()[i]) {
                        edge(fresh[i], EPS, 0, 0, fresh[i + 1]);
                        edge(after[i], EPS, 0, 0, after[i + 1]);
                    }
                }
                int end = newState();
                edge(after[n], EPS, 0, 0, end);
                edge(fresh[n], EPS, 0, 0, end);
                return end;
            }
        }
    }

    private void indexEdges() {
        outOffset = new int[nfaStates + 1];
        for (int i = 0; i < edges; i++) outOffset[edgeFrom[i] + 1]++;
        for (int s = 0; s < nfaStates; s++) outOffset[s + 1] += outOffset[s];
        outEdge = new int[edges];
        int[] fill = Arrays.copyOf(outOffset, nfaStates);
        for (int i = 0; i < edges; i++) outEdge[fill[edgeFrom[i]]++] = i;
    }

    /** Rules that can match the empty string: a fixpoint, since a rule may be empty through calls. */
    private boolean[] nullableRules(int[] starts, int[] ends) {
        boolean[] nullable = new boolean[starts.length];
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int r = 0; r < starts.length; r++) {
                if (nullable[r]) continue;
                int[] closure = closure(new int[] {starts[r]}, nullable);
                if (Arrays.binarySearch(closure, ends[r]) >= 0) {
                    nullable[r] = true;
                    changed = true;
                }
            }
        }
        return nullable;
    }

    /** Marks for closures: a state is visited in the current closure when its mark equals {@link #stamp}. */
    private int[] mark;
    private int stamp;
    private int[] closureStack = new int[64];

    /** Sorted states reachable from {@code seeds} by empty moves and skipped calls of nullable rules. */
    private int[] closure(int[] seeds, boolean[] nullable) {
        if (mark == null || mark.length < nfaStates) mark = new int[nfaStates];
        if (++stamp == Integer.MAX_VALUE) {
            java.util.Arrays.fill(mark, 0);
            stamp = 1;
        }
        int[] stack = closureStack;
        int sp = 0, found = 0;
        int[] out = new int[Math.max(8, seeds.length * 2)];
        for (int s : seeds) {
            if (mark[s] == stamp) continue;
            mark[s] = stamp;
            if (sp == stack.length) stack = closureStack = Arrays.copyOf(stack, sp * 2);
            stack[sp++] = s;
        }
        while (sp > 0) {
            int s = stack[--sp];
            if (found == out.length) out = Arrays.copyOf(out, found * 2);
            out[found++] = s;
            for (int k = outOffset[s]; k < outOffset[s + 1]; k++) {
                int e = outEdge[k];
                boolean empty = edgeKind[e] == EPS || (edgeKind[e] == CALL && nullable[edgeA[e]]);
                int t = edgeTo[e];
                if (empty && mark[t] != stamp) {
                    mark[t] = stamp;
                    if (sp == stack.length) stack = closureStack = Arrays.copyOf(stack, sp * 2);
                    stack[sp++] = t;
                }
            }
        }
        out = Arrays.copyOf(out, found);
        Arrays.sort(out);
        return out;
    }

    /** Splits 0..255 at every edge boundary; returns the number of classes. */
    private int byteClasses(int[] classOf) {
        boolean[] boundary = new boolean[257];
        for (int e = 0; e < edges; e++) {
            if (edgeKind[e] != BYTES) continue;
            boundary[edgeA[e]] = true;
            boundary[edgeB[e] + 1] = true;
        }
        int cls = -1;
        for (int b = 0; b < 256; b++) {
            if (b == 0 || boundary[b]) cls++;
            classOf[b] = cls;
        }
        return cls + 1;
    }

    // ---- subset construction ----

    private record Key(int[] states) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(states, k.states);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(states);
        }
    }

    private final class Determinizer {
        private final boolean[] nullable;
        private final int[] classOf;
        private final int numClasses;
        private final List<int[]> subsets = new ArrayList<>();
        private final List<Integer> ruleOfState = new ArrayList<>();
        private final List<Boolean> acceptingList = new ArrayList<>();
        private int[] next = new int[0];
        private final List<int[]> calls = new ArrayList<>(); // per state: rule, return, rule, return...

        Determinizer(boolean[] nullable, int[] classOf, int numClasses) {
            this.nullable = nullable;
            this.classOf = classOf;
            this.numClasses = numClasses;
        }

        int determinize(int rule, int nfaStart, int nfaEnd) {
            Map<Key, Integer> ids = new HashMap<>();
            ArrayDeque<Integer> work = new ArrayDeque<>();
            int start = id(closure(new int[] {nfaStart}, nullable), rule, nfaEnd, ids, work);
            int[][] targets = new int[numClasses][8];
            int[] counts = new int[numClasses];
            Map<Key, Integer> byTargets = new HashMap<>();
            while (!work.isEmpty()) {
                int d = work.poll();
                int[] subset = subsets.get(d);
                Arrays.fill(counts, 0);
                TreeMap<Integer, List<Integer>> callTargets = new TreeMap<>();
                for (int s : subset) {
                    for (int k = outOffset[s]; k < outOffset[s + 1]; k++) {
                        int e = outEdge[k];
                        if (edgeKind[e] == BYTES) {
                            for (int c = classOf[edgeA[e]]; c <= classOf[edgeB[e]]; c++) {
                                if (counts[c] == targets[c].length) targets[c] = Arrays.copyOf(targets[c], counts[c] * 2);
                                targets[c][counts[c]++] = edgeTo[e];
                            }
                        } else if (edgeKind[e] == CALL) {
                            callTargets.computeIfAbsent(edgeA[e], x -> new ArrayList<>()).add(edgeTo[e]);
                        }
                    }
                }
                for (int c = 0; c < numClasses; c++) {
                    if (counts[c] == 0) continue;
                    int[] raw = Arrays.copyOf(targets[c], counts[c]);
                    Arrays.sort(raw);
                    int u = 0;
                    for (int i = 0; i < raw.length; i++) if (i == 0 || raw[i] != raw[i - 1]) raw[u++] = raw[i];
                    Key rawKey = new Key(u == raw.length ? raw : Arrays.copyOf(raw, u));
                    // Same raw targets, same closure: within a rule the result is the same DFA state.
                    Integer t = byTargets.get(rawKey);
                    if (t == null) {
                        t = id(closure(rawKey.states(), nullable), rule, nfaEnd, ids, work);
                        byTargets.put(rawKey, t);
                    }
                    next[d * numClasses + c] = t;
                }
                int[] cs = new int[callTargets.size() * 2];
                int i = 0;
                for (Map.Entry<Integer, List<Integer>> e : callTargets.entrySet()) {
                    cs[i++] = e.getKey();
                    cs[i++] = id(closure(e.getValue().stream().mapToInt(Integer::intValue).toArray(), nullable), rule, nfaEnd, ids, work);
                }
                calls.set(d, cs);
            }
            return start;
        }

        private int id(int[] subset, int rule, int nfaEnd, Map<Key, Integer> ids, ArrayDeque<Integer> work) {
            Key key = new Key(subset);
            Integer id = ids.get(key);
            if (id != null) return id;
            id = subsets.size();
            if (id >= MAX_DFA_STATES) {
                throw new ConstraintException("grammar too large: more than " + MAX_DFA_STATES + " deterministic automaton states");
            }
            ids.put(key, id);
            subsets.add(subset);
            ruleOfState.add(rule);
            acceptingList.add(Arrays.binarySearch(subset, nfaEnd) >= 0);
            calls.add(new int[0]);
            int need = (id + 1) * numClasses;
            if (next.length < need) {
                int old = next.length;
                next = Arrays.copyOf(next, Math.max(need, old * 2));
                Arrays.fill(next, old, next.length, -1);
            }
            work.add(id);
            return id;
        }

        ByteAutomaton finish(String[] names, int[] ruleStart, int rootRule) {
            trimDeadEnds(names, ruleStart, rootRule);
            minimize(ruleStart);
            int n = subsets.size();
            int[] callOffset = new int[n + 1];
            for (int s = 0; s < n; s++) callOffset[s + 1] = callOffset[s] + calls.get(s).length / 2;
            int[] callRule = new int[callOffset[n]], callReturn = new int[callOffset[n]];
            for (int s = 0; s < n; s++) {
                int[] cs = calls.get(s);
                for (int i = 0; i < cs.length; i += 2) {
                    callRule[callOffset[s] + i / 2] = cs[i];
                    callReturn[callOffset[s] + i / 2] = cs[i + 1];
                }
            }
            boolean[] accepting = new boolean[n];
            int[] ruleOf = new int[n];
            for (int s = 0; s < n; s++) {
                accepting[s] = acceptingList.get(s);
                ruleOf[s] = ruleOfState.get(s);
            }
            int[] table = Arrays.copyOf(next, n * numClasses);
            long[] first = firstBytes(names.length, ruleStart, table, callOffset, callRule);
            List<List<Integer>> returns = new ArrayList<>();
            for (int r = 0; r < names.length; r++) returns.add(new ArrayList<>());
            for (int k = 0; k < callRule.length; k++) {
                if (!returns.get(callRule[k]).contains(callReturn[k])) returns.get(callRule[k]).add(callReturn[k]);
            }
            int[][] returnStates = new int[names.length][];
            for (int r = 0; r < names.length; r++) returnStates[r] = returns.get(r).stream().mapToInt(Integer::intValue).toArray();
            refuseLeftRecursion(names, ruleStart, callOffset, callRule);
            return new ByteAutomaton(classOf, numClasses, n, table, accepting, callOffset, callRule, callReturn, names, ruleStart,
                    ruleOf, first, returnStates, rootRule);
        }

        /**
         * Cuts every transition and call into a state from which its rule can never finish, so any
         * byte the automaton reads (and any token a mask allows) leaves an output that can still be
         * completed. Such dead ends come from parts of a grammar that match nothing.
         */
        private void trimDeadEnds(String[] names, int[] ruleStart, int rootRule) {
            int n = subsets.size();
            // Predecessors by byte transition, and the call sites by return state and by called rule.
            int[] predStart = new int[n + 1];
            for (int s = 0; s < n; s++) {
                for (int c = 0; c < numClasses; c++) if (next[s * numClasses + c] >= 0) predStart[next[s * numClasses + c] + 1]++;
            }
            for (int i = 0; i < n; i++) predStart[i + 1] += predStart[i];
            int[] pred = new int[predStart[n]];
            int[] fill = Arrays.copyOf(predStart, n);
            for (int s = 0; s < n; s++) {
                for (int c = 0; c < numClasses; c++) if (next[s * numClasses + c] >= 0) pred[fill[next[s * numClasses + c]]++] = s;
            }
            List<List<int[]>> sitesByReturn = new ArrayList<>(), sitesByRule = new ArrayList<>();
            for (int s = 0; s < n; s++) sitesByReturn.add(new ArrayList<>());
            for (int r = 0; r < ruleStart.length; r++) sitesByRule.add(new ArrayList<>());
            for (int s = 0; s < n; s++) {
                int[] cs = calls.get(s);
                for (int i = 0; i < cs.length; i += 2) {
                    int[] site = {s, cs[i], cs[i + 1]};
                    sitesByReturn.get(cs[i + 1]).add(site);
                    sitesByRule.get(cs[i]).add(site);
                }
            }
            boolean[] live = new boolean[n];
            int[] queue = new int[n];
            int qh = 0, qt = 0;
            for (int s = 0; s < n; s++) {
                if (acceptingList.get(s)) {
                    live[s] = true;
                    queue[qt++] = s;
                }
            }
            while (qh < qt) {
                int t = queue[qh++];
                for (int k = predStart[t]; k < predStart[t + 1]; k++) {
                    if (!live[pred[k]]) {
                        live[pred[k]] = true;
                        queue[qt++] = pred[k];
                    }
                }
                List<int[]> sites = new ArrayList<>(sitesByReturn.get(t));
                for (int r = 0; r < ruleStart.length; r++) if (ruleStart[r] == t) sites.addAll(sitesByRule.get(r));
                for (int[] site : sites) {
                    if (!live[site[0]] && live[ruleStart[site[1]]] && live[site[2]]) {
                        live[site[0]] = true;
                        queue[qt++] = site[0];
                    }
                }
            }
            if (!live[ruleStart[rootRule]]) throw new ConstraintException("the grammar matches no output at all (rule '" + names[rootRule] + "')");
            for (int s = 0; s < n; s++) {
                for (int c = 0; c < numClasses; c++) {
                    int t = next[s * numClasses + c];
                    if (t >= 0 && !live[t]) next[s * numClasses + c] = -1;
                }
                int[] cs = calls.get(s);
                int kept = 0;
                for (int i = 0; i < cs.length; i += 2) {
                    if (live[ruleStart[cs[i]]] && live[cs[i + 1]]) {
                        cs[kept++] = cs[i];
                        cs[kept++] = cs[i + 1];
                    }
                }
                if (kept < cs.length) calls.set(s, Arrays.copyOf(cs, kept));
            }
        }

        /**
         * Merges states no input can tell apart (Moore's partition refinement): same rule, same
         * acceptance, and transitions and calls into the same blocks. Every distinct state costs
         * a trie walk when masks are computed, and subset construction leaves many equivalent ones
         * (a string's state after its opening quote and after each character, for one).
         */
        private void minimize(int[] ruleStart) {
            int n = subsets.size();
            // Symbols: the byte classes, then one per called rule (moving to the call's return state).
            int rules = ruleStart.length;
            int symbols = numClasses + rules;
            int[] delta = new int[n * symbols];
            Arrays.fill(delta, -1);
            int[] initial = new int[n];
            for (int s = 0; s < n; s++) {
                System.arraycopy(next, s * numClasses, delta, s * symbols, numClasses);
                int[] cs = calls.get(s);
                for (int i = 0; i < cs.length; i += 2) delta[s * symbols + numClasses + cs[i]] = cs[i + 1];
                initial[s] = ruleOfState.get(s) * 2 + (acceptingList.get(s) ? 1 : 0);
            }
            int[] block = Minimizer.refine(n, symbols, delta, initial);
            int blocks = 0;
            for (int bl : block) blocks = Math.max(blocks, bl + 1);
            if (blocks == n) return;
            // Keep the first state of each block; renumber everything onto the kept ones.
            int[] representative = new int[blocks];
            java.util.Arrays.fill(representative, -1);
            for (int s = 0; s < n; s++) if (representative[block[s]] < 0) representative[block[s]] = s;
            int[] newNext = new int[blocks * numClasses];
            List<int[]> newSubsets = new ArrayList<>(), newCalls = new ArrayList<>();
            List<Integer> newRule = new ArrayList<>();
            List<Boolean> newAccepting = new ArrayList<>();
            for (int b = 0; b < blocks; b++) {
                int s = representative[b];
                for (int c = 0; c < numClasses; c++) {
                    int t = next[s * numClasses + c];
                    newNext[b * numClasses + c] = t < 0 ? -1 : block[t];
                }
                int[] cs = calls.get(s).clone();
                for (int i = 1; i < cs.length; i += 2) cs[i] = block[cs[i]];
                newCalls.add(cs);
                newSubsets.add(subsets.get(s));
                newRule.add(ruleOfState.get(s));
                newAccepting.add(acceptingList.get(s));
            }
            for (int r = 0; r < ruleStart.length; r++) ruleStart[r] = block[ruleStart[r]];
            next = newNext;
            subsets.clear();
            subsets.addAll(newSubsets);
            calls.clear();
            calls.addAll(newCalls);
            ruleOfState.clear();
            ruleOfState.addAll(newRule);
            acceptingList.clear();
            acceptingList.addAll(newAccepting);
        }

        private long[] firstBytes(int rules, int[] ruleStart, int[] table, int[] callOffset, int[] callRule) {
            long[] first = new long[rules * 4];
            boolean changed = true;
            while (changed) {
                changed = false;
                for (int r = 0; r < rules; r++) {
                    int s = ruleStart[r];
                    long[] bits = new long[4];
                    for (int b = 0; b < 256; b++) {
                        if (table[s * numClasses + classOf[b]] >= 0) bits[b >>> 6] |= 1L << b;
                    }
                    for (int k = callOffset[s]; k < callOffset[s + 1]; k++) {
                        for (int w = 0; w < 4; w++) bits[w] |= first[callRule[k] * 4 + w];
                    }
                    for (int w = 0; w < 4; w++) {
                        if ((first[r * 4 + w] | bits[w]) != first[r * 4 + w]) {
                            first[r * 4 + w] |= bits[w];
                            changed = true;
                        }
                    }
                }
            }
            return first;
        }

        /** A rule that can call itself again before reading a byte would recurse forever. */
        private void refuseLeftRecursion(String[] names, int[] ruleStart, int[] callOffset, int[] callRule) {
            int rules = names.length;
            int[] color = new int[rules];
            for (int r = 0; r < rules; r++) leftDfs(r, names, ruleStart, callOffset, callRule, color, new ArrayDeque<>());
        }

        private void leftDfs(int r, String[] names, int[] ruleStart, int[] callOffset, int[] callRule, int[] color,
                             ArrayDeque<String> path) {
            if (color[r] == 2) return;
            path.addLast(names[r]);
            if (color[r] == 1) {
                throw new ConstraintException("left recursion: rule '" + names[r] + "' can reach itself before reading a byte ("
                        + String.join(" -> ", path) + "); rewrite it with repetition");
            }
            color[r] = 1;
            int s = ruleStart[r];
            for (int k = callOffset[s]; k < callOffset[s + 1]; k++) {
                leftDfs(callRule[k], names, ruleStart, callOffset, callRule, color, path);
            }
            color[r] = 2;
            path.removeLast();
        }
    }
}
